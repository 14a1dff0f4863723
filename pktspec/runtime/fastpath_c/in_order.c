/* The TCP assembler's in-order path (see fastpath.h). */
#include "fastpath.h"

/* InOrderPath(assembler, count, TCP, IPv4, IPv6, CaptureInfo, Chunk, Side, Connection,
 * StreamStats, AssemblerStats) is reassembly/tcp.py's in-order branch (a segment that
 * continues a calm side exactly where it left off) for one assembler, run in C. Called with
 * a packet, it takes the packet and returns True, or returns False having changed nothing
 * (not the usual TCP packet, not in order, a value it does not handle, or the assembler's
 * tables replaced since), and Python's own code then takes the packet as before. tcp.py's
 * branch is its specification, statement for statement.
 *
 * count: True for assemble(), which adds to assembler.stats.packets at once (here, where
 * the Python branch does); False for _assemble_yielding, whose loop adds its own count at
 * the end: `taken` is that count for this object (the loop reads it in its `finally`).
 *
 * No Python code runs between the checks and the updates: old slot values are released
 * only after the last update (their finalizers could otherwise see half an update, or
 * change what the next step reads), and slots are read again, and checked, where used. */

typedef struct {
    PyObject_HEAD
    PyObject *assembler_dict, *sides, *conns;
    PyObject *tcp, *ipv4, *ipv6, *info_type, *chunk_type, *side_type, *conn_type, *stats_type,
        *astats_type;
    int count;
    long long taken;
    /* slot offsets: layers */
    Py_ssize_t l_off, l_hend, l_pend, l_buf;
    Py_ssize_t t_flags, t_seq, t_window, t_sport, t_dport;
    Py_ssize_t v4_flags, v4_frag, v4_src, v4_dst, v6_next, v6_src, v6_dst;
    /* Side, Connection, StreamStats, AssemblerStats */
    Py_ssize_t s_calm, s_nxt_seq, s_conn, s_stats, s_window, s_nxt, s_peer, s_sink, s_dir;
    Py_ssize_t c_last_seen, c_index, c_stream;
    Py_ssize_t st_packets, st_last, st_zwp, st_bytes;
    Py_ssize_t as_packets;
    vectorcallfunc vectorcall;
} InOrderPath;

static PyObject *s_sides, *s_conns, *s_stats, *s_move_to_end;

static PyObject *InOrderPath_vectorcall(PyObject *o, PyObject *const *args, size_t nargsf,
                                        PyObject *kwnames);

#define IN_ORDER_OBJECTS(X) X(assembler_dict) X(sides) X(conns) X(tcp) X(ipv4) X(ipv6) \
    X(info_type) X(chunk_type) X(side_type) X(conn_type) X(stats_type) X(astats_type)

static int
InOrderPath_traverse(InOrderPath *o, visitproc visit, void *arg)
{
#define VISIT(name) Py_VISIT(o->name);
    IN_ORDER_OBJECTS(VISIT)
#undef VISIT
    return 0;
}

static int
InOrderPath_clear(InOrderPath *o)
{
#define CLEAR(name) Py_CLEAR(o->name);
    IN_ORDER_OBJECTS(CLEAR)
#undef CLEAR
    return 0;
}

static void
InOrderPath_dealloc(InOrderPath *o)
{
    PyObject_GC_UnTrack(o);
    InOrderPath_clear(o);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static int
intern_names(void)
{
    if (s_sides != NULL) {
        return 0;
    }
    s_sides = PyUnicode_InternFromString("_sides");
    s_conns = PyUnicode_InternFromString("_conns");
    s_stats = PyUnicode_InternFromString("stats");
    s_move_to_end = PyUnicode_InternFromString("move_to_end");
    return s_sides && s_conns && s_stats && s_move_to_end ? 0 : -1;
}

static PyObject *
InOrderPath_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *assembler, *tcp, *ipv4, *ipv6, *info_type, *chunk_type, *side_type, *conn_type,
        *stats_type, *astats_type;
    int count;
    if (!PyArg_ParseTuple(args, "OpO!O!O!O!O!O!O!O!O!:InOrderPath", &assembler, &count,
                          &PyType_Type, &tcp, &PyType_Type, &ipv4, &PyType_Type, &ipv6,
                          &PyType_Type, &info_type, &PyType_Type, &chunk_type, &PyType_Type,
                          &side_type, &PyType_Type, &conn_type, &PyType_Type, &stats_type,
                          &PyType_Type, &astats_type)
        || check_configured() < 0 || intern_names() < 0) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)chunk_type, &PyTuple_Type)
        || !PyType_IsSubtype((PyTypeObject *)info_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "Chunk and CaptureInfo must be tuples");
        return NULL;
    }
    PyObject **dictptr = _PyObject_GetDictPtr(assembler);
    if (dictptr == NULL || *dictptr == NULL
        || _PyType_Lookup(Py_TYPE(assembler), s_recent) != NULL) {
        PyErr_SetString(PyExc_TypeError, "the assembler keeps _recent in its __dict__");
        return NULL;
    }
    PyObject *sides = PyDict_GetItemWithError(*dictptr, s_sides);
    PyObject *conns = sides ? PyDict_GetItemWithError(*dictptr, s_conns) : NULL;
    if (conns == NULL || !PyDict_CheckExact(sides) || !PyODict_CheckExact(conns)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError,
                            "the assembler has no _sides dict and _conns OrderedDict");
        }
        return NULL;
    }
    InOrderPath *o = (InOrderPath *)type->tp_alloc(type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->assembler_dict = Py_NewRef(*dictptr);
    o->sides = Py_NewRef(sides);
    o->conns = Py_NewRef(conns);
    o->tcp = Py_NewRef(tcp);
    o->ipv4 = Py_NewRef(ipv4);
    o->ipv6 = Py_NewRef(ipv6);
    o->info_type = Py_NewRef(info_type);
    o->chunk_type = Py_NewRef(chunk_type);
    o->side_type = Py_NewRef(side_type);
    o->conn_type = Py_NewRef(conn_type);
    o->stats_type = Py_NewRef(stats_type);
    o->astats_type = Py_NewRef(astats_type);
    o->count = count;
    o->vectorcall = (vectorcallfunc)InOrderPath_vectorcall;
    struct { Py_ssize_t *at; PyObject *type; const char *name; } slots[] = {
        {&o->l_off, tcp, "_off"}, {&o->l_hend, tcp, "_hend"}, {&o->l_pend, tcp, "_pend"},
        {&o->l_buf, tcp, "_buf"}, {&o->t_flags, tcp, "_flags"}, {&o->t_seq, tcp, "seq"},
        {&o->t_window, tcp, "window"}, {&o->t_sport, tcp, "src_port"},
        {&o->t_dport, tcp, "dst_port"}, {&o->v4_flags, ipv4, "_flags"},
        {&o->v4_frag, ipv4, "fragment_offset"}, {&o->v4_src, ipv4, "_src"},
        {&o->v4_dst, ipv4, "_dst"}, {&o->v6_next, ipv6, "next_header"},
        {&o->v6_src, ipv6, "_src"}, {&o->v6_dst, ipv6, "_dst"},
        {&o->s_calm, side_type, "calm"}, {&o->s_nxt_seq, side_type, "nxt_seq"},
        {&o->s_conn, side_type, "conn"}, {&o->s_stats, side_type, "stats"},
        {&o->s_window, side_type, "window"}, {&o->s_nxt, side_type, "nxt"},
        {&o->s_peer, side_type, "peer"}, {&o->s_sink, side_type, "sink"},
        {&o->s_dir, side_type, "direction"}, {&o->c_last_seen, conn_type, "last_seen"},
        {&o->c_index, conn_type, "index"}, {&o->c_stream, conn_type, "stream"},
        {&o->st_packets, stats_type, "packets"}, {&o->st_last, stats_type, "last"},
        {&o->st_zwp, stats_type, "zero_window_probes"}, {&o->st_bytes, stats_type, "bytes"},
        {&o->as_packets, astats_type, "packets"},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if ((*slots[i].at = member_offset_str(slots[i].type, slots[i].name)) < 0) {
            Py_DECREF(o);
            return NULL;
        }
    }
    return (PyObject *)o;
}

/* A slot holding an exact int that fits 64 bits, else 0. */
static inline int
slot_int(PyObject *obj, Py_ssize_t off, long long *out)
{
    PyObject *v = SLOT(obj, off);
    if (v == NULL || !PyLong_CheckExact(v)) {
        return 0;
    }
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static inline int
slot_truth(PyObject *obj, Py_ssize_t off)
{
    PyObject *v = SLOT(obj, off);
    if (v == Py_True) {
        return 1;
    }
    if (v == Py_False || v == NULL) {
        return 0;
    }
    return -1;  /* not a bool: Python's branch decides */
}

/* What the checks found, held (new references) for the updates. */
typedef struct {
    PyObject *side, *conn, *stats, *tcp, *astats;
    double ts;
    long long start;  /* the side's next byte before this segment: the chunk's position */
} InOrderSegment;

static void
segment_release(InOrderSegment *g)
{
    Py_XDECREF(g->side);
    Py_XDECREF(g->conn);
    Py_XDECREF(g->stats);
    Py_XDECREF(g->tcp);
    Py_XDECREF(g->astats);
}

/* The side a TCP-over-IP packet continues, looked up by its addresses and ports: a
 * borrowed reference, or NULL (none: 0; an error: -1 in *status). */
static PyObject *
side_of(InOrderPath *o, PyObject *net, PyObject *tcp, Py_ssize_t src_off, Py_ssize_t dst_off,
        int *status)
{
    PyObject *parts[4] = {SLOT(net, src_off), SLOT(tcp, o->t_sport), SLOT(net, dst_off),
                          SLOT(tcp, o->t_dport)};
    *status = 0;
    for (int i = 0; i < 4; i++) {
        if (parts[i] == NULL) {
            return NULL;
        }
    }
    for (int i = 0; i < 4; i++) {  /* held: making the key may run the collector */
        Py_INCREF(parts[i]);
    }
    PyObject *key = PyTuple_Pack(4, parts[0], parts[1], parts[2], parts[3]);
    for (int i = 0; i < 4; i++) {
        Py_DECREF(parts[i]);
    }
    if (key == NULL) {
        *status = -1;
        return NULL;
    }
    PyObject *side = PyDict_GetItemWithError(o->sides, key);
    Py_DECREF(key);
    if (side == NULL && PyErr_Occurred()) {
        *status = -1;
    }
    return side;
}

/* The packet's capture time as tcp.py computes it for a CaptureInfo, or -1 (not one, or
 * not exactly representable: Python's branch). */
static double
capture_time(InOrderPath *o, PyObject *packet)
{
    PyObject *meta = SLOT(packet, RT.p_metadata);
    if (meta == NULL || Py_TYPE(meta) != (PyTypeObject *)o->info_type
        || PyTuple_GET_SIZE(meta) < 3) {
        return -1;
    }
    long long v[3];
    for (int i = 0; i < 3; i++) {
        PyObject *item = PyTuple_GET_ITEM(meta, i);
        if (!PyLong_CheckExact(item)) {
            return -1;
        }
        v[i] = PyLong_AsLongLong(item);
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    const long long exact = (long long)1 << 53;  /* where int -> float is exact */
    if (v[2] <= 0 || v[0] < 0 || v[0] >= exact || v[1] < 0 || v[1] >= exact || v[2] >= exact) {
        return -1;
    }
    return (double)v[0] + (double)v[1] / (double)v[2];
}

/* The checks of tcp.py's in-order branch, reading only: 1 when the packet takes that path
 * (g filled), 0 when it does not, -1 on an error. */
static int
in_order_check(InOrderPath *o, PyObject *packet, InOrderSegment *g)
{
    PyObject *d = o->assembler_dict;
    if (PyDict_GetItemWithError(d, s_sides) != o->sides
        || PyDict_GetItemWithError(d, s_conns) != o->conns) {
        return PyErr_Occurred() ? -1 : 0;  /* tables replaced since: Python's branch */
    }
    long long v;
    if (Py_TYPE(packet) != (PyTypeObject *)RT.packet_type) {
        return 0;
    }
    PyObject *tcp = SLOT(packet, RT.p_trans);
    PyObject *layers = SLOT(packet, RT.p_layers);
    PyObject *net = SLOT(packet, RT.p_net);
    if (tcp == NULL || Py_TYPE(tcp) != (PyTypeObject *)o->tcp || net == NULL
        || layers == NULL || !PyList_CheckExact(layers) || PyList_GET_SIZE(layers) == 0
        || _PyType_Lookup(Py_TYPE(PyList_GET_ITEM(layers, 0)), s_quotes) != Py_False) {
        return 0;  /* not the usual TCP packet, or a link layer that quotes another one */
    }
    long long toff, nhend;
    if (!slot_int(tcp, o->l_off, &toff) || !slot_int(net, o->l_hend, &nhend) || toff != nhend) {
        return 0;
    }
    Py_ssize_t src_off, dst_off;
    if (Py_TYPE(net) == (PyTypeObject *)o->ipv4) {
        if (!slot_int(net, o->v4_flags, &v) || (v & 1) || !slot_int(net, o->v4_frag, &v) || v) {
            return 0;
        }
        src_off = o->v4_src;
        dst_off = o->v4_dst;
    }
    else if (Py_TYPE(net) == (PyTypeObject *)o->ipv6) {
        if (!slot_int(net, o->v6_next, &v) || v != 6) {
            return 0;
        }
        src_off = o->v6_src;
        dst_off = o->v6_dst;
    }
    else {
        return 0;
    }
    Py_INCREF(tcp);  /* the lookup may run the collector */
    int status;
    PyObject *side = side_of(o, net, tcp, src_off, dst_off, &status);
    if (side == NULL || !Py_IS_TYPE(side, (PyTypeObject *)o->side_type)
        || (g->ts = capture_time(o, packet)) < 0) {
        Py_DECREF(tcp);
        return status;
    }
    /* the side must be calm and this segment its next, with no SYN, FIN or RST */
    long long flags, seq, nxt_seq;
    PyObject *conn = SLOT(side, o->s_conn), *stats = SLOT(side, o->s_stats);
    if (!slot_int(tcp, o->t_flags, &flags) || (flags & 0x7) || !slot_int(tcp, o->t_seq, &seq)
        || slot_truth(side, o->s_calm) != 1 || !slot_int(side, o->s_nxt_seq, &nxt_seq)
        || seq != nxt_seq || conn == NULL || !Py_IS_TYPE(conn, (PyTypeObject *)o->conn_type)
        || stats == NULL || !Py_IS_TYPE(stats, (PyTypeObject *)o->stats_type)) {
        Py_DECREF(tcp);
        return 0;
    }
    PyObject *astats = NULL;  /* assembler.stats, for assemble()'s count */
    if (o->count) {
        astats = PyDict_GetItemWithError(d, s_stats);
        if (astats == NULL || !Py_IS_TYPE(astats, (PyTypeObject *)o->astats_type)
            || !slot_int(astats, o->as_packets, &v)) {
            Py_DECREF(tcp);
            return PyErr_Occurred() ? -1 : 0;
        }
    }
    g->tcp = tcp;
    g->side = Py_NewRef(side);
    g->conn = Py_NewRef(conn);
    g->stats = Py_NewRef(stats);
    g->astats = Py_XNewRef(astats);
    return 1;
}

/* Old values of the slots the updates replace, released after the last update. */
typedef struct {
    PyObject *items[16];
    int n;
} Graveyard;

static void
bury(Graveyard *y, PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    if (old != NULL) {
        y->items[y->n++] = old;  /* at most 10 stores below */
    }
}

static void
graveyard_release(Graveyard *y)
{
    while (y->n > 0) {
        Py_DECREF(y->items[--y->n]);
    }
}

/* obj.<slot> + by, stored (the slot read again now, as Python reads it): 0, or -1 with
 * TypeError when it no longer holds an int it can add to. */
static int
add_to_slot(Graveyard *y, PyObject *obj, Py_ssize_t off, long long by, long long mask)
{
    long long value;
    if (!slot_int(obj, off, &value) || value > ((long long)1 << 61)) {
        PyErr_SetString(PyExc_TypeError, "a counter of the in-order path is not an int");
        return -1;
    }
    PyObject *sum = PyLong_FromLongLong(mask ? (value + by) & mask : value + by);
    if (sum == NULL) {
        return -1;
    }
    bury(y, obj, off, sum);
    return 0;
}

/* A slot's value as a new reference, or NULL with AttributeError (as reading it in Python). */
static PyObject *
slot_value(PyObject *obj, Py_ssize_t off, const char *name)
{
    PyObject *v = SLOT(obj, off);
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, name);
        return NULL;
    }
    return Py_NewRef(v);
}

/* The updates of tcp.py's in-order branch for a segment that passed the checks, in its
 * order, up to the delivery; *payload is the segment's bytes (NULL: none to deliver).
 * 0, or -1 with an exception (as Python would raise it). */
static int
in_order_update(InOrderPath *o, InOrderSegment *g, Graveyard *y, PyObject *ts,
                PyObject **payload)
{
    PyObject *side = g->side, *conn = g->conn, *stats = g->stats, *tcp = g->tcp;
    *payload = NULL;
    bury(y, conn, o->c_last_seen, Py_NewRef(ts));
    PyObject *recent = PyDict_GetItemWithError(o->assembler_dict, s_recent);
    if (recent == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (conn != recent) {
        PyObject *index = slot_value(conn, o->c_index, "index");
        PyObject *r = index ? PyObject_CallMethodOneArg(o->conns, s_move_to_end, index) : NULL;
        Py_XDECREF(index);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
        if (recent != NULL) {
            y->items[y->n++] = Py_NewRef(recent);  /* the old _recent goes with the rest */
        }
        if (PyDict_SetItem(o->assembler_dict, s_recent, conn) < 0) {
            return -1;
        }
    }
    if (o->count && add_to_slot(y, g->astats, o->as_packets, 1, 0) < 0) {
        return -1;
    }
    o->taken++;
    if (add_to_slot(y, stats, o->st_packets, 1, 0) < 0) {
        return -1;
    }
    bury(y, stats, o->st_last, Py_NewRef(ts));
    PyObject *window = slot_value(tcp, o->t_window, "window");
    if (window == NULL) {
        return -1;
    }
    bury(y, side, o->s_window, window);
    long long hend, pend;
    if (!slot_int(tcp, o->l_hend, &hend) || !slot_int(tcp, o->l_pend, &pend)) {
        PyErr_SetString(PyExc_TypeError, "a TCP layer's bounds are not ints");
        return -1;
    }
    long long n = pend - hend;
    if (n <= 0) {
        return 0;
    }
    PyObject *buf = slot_value(tcp, o->l_buf, "_buf");
    PyObject *part = buf ? PySequence_GetSlice(buf, (Py_ssize_t)hend, (Py_ssize_t)pend) : NULL;
    Py_XDECREF(buf);
    if (part != NULL && !PyBytes_CheckExact(part)) {
        Py_SETREF(part, PyBytes_FromObject(part));  /* copy=False: never keep the buffer */
    }
    if (part == NULL) {
        return -1;
    }
    *payload = part;
    if (n == 1) {
        PyObject *peer = slot_value(side, o->s_peer, "peer");
        PyObject *peer_window = peer ? slot_value(peer, o->s_window, "window") : NULL;
        Py_XDECREF(peer);
        int zero = peer_window ? PyObject_RichCompareBool(peer_window, long_zero, Py_EQ) : -1;
        Py_XDECREF(peer_window);
        if (zero < 0 || (zero && add_to_slot(y, stats, o->st_zwp, 1, 0) < 0)) {
            return -1;
        }
    }
    long long start;
    if (!slot_int(side, o->s_nxt, &start)) {
        PyErr_SetString(PyExc_TypeError, "a side's next byte is not an int");
        return -1;
    }
    if (add_to_slot(y, side, o->s_nxt, n, 0) < 0
        || add_to_slot(y, side, o->s_nxt_seq, n, 0xFFFFFFFFLL) < 0
        || add_to_slot(y, stats, o->st_bytes, n, 0) < 0) {
        return -1;
    }
    g->start = start;
    return 0;
}

/* The delivery: the side's sink, or a Chunk to the connection's stream, as tcp.py does. */
static int
in_order_deliver(InOrderPath *o, InOrderSegment *g, PyObject *ts, PyObject *payload)
{
    PyObject *stream = SLOT(g->conn, o->c_stream);
    if (stream == NULL) {
        PyErr_SetString(PyExc_AttributeError, "stream");
        return -1;
    }
    if (stream == Py_None) {
        return 0;
    }
    Py_INCREF(stream);
    PyObject *sink = SLOT(g->side, o->s_sink), *r = NULL;
    if (sink == NULL) {
        PyErr_SetString(PyExc_AttributeError, "sink");
    }
    else if (sink != Py_None) {
        Py_INCREF(sink);
        r = PyList_CheckExact(sink) ? (PyList_Append(sink, payload) < 0 ? NULL
                                                                        : Py_NewRef(Py_None))
                                    : PyObject_CallMethod(sink, "append", "O", payload);
        Py_DECREF(sink);
    }
    else {
        PyObject *direction = slot_value(g->side, o->s_dir, "direction");
        PyObject *start = PyLong_FromLongLong(g->start);
        PyObject *items = direction && start
            ? PyTuple_Pack(5, payload, long_zero, direction, start, ts) : NULL;
        PyObject *chunk = NULL;
        if (items != NULL) {  /* tuple.__new__(Chunk, items), as tcp.py makes it */
            PyObject *args = PyTuple_Pack(1, items);
            chunk = args ? PyTuple_Type.tp_new((PyTypeObject *)o->chunk_type, args, NULL)
                         : NULL;
            Py_XDECREF(args);
        }
        if (chunk != NULL) {
            r = PyObject_CallMethodOneArg(stream, s_reassembled, chunk);
        }
        Py_XDECREF(chunk);
        Py_XDECREF(items);
        Py_XDECREF(start);
        Py_XDECREF(direction);
    }
    Py_DECREF(stream);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static PyObject *
in_order(InOrderPath *o, PyObject *packet)
{
    if (o->sides == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the in-order path was cleared");
        return NULL;
    }
    InOrderSegment g = {NULL, NULL, NULL, NULL, NULL, 0, 0};
    int r = in_order_check(o, packet, &g);
    if (r <= 0) {
        if (r < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    Graveyard y = {{NULL}, 0};
    PyObject *payload = NULL;
    PyObject *ts = PyFloat_FromDouble(g.ts);
    r = ts ? in_order_update(o, &g, &y, ts, &payload) : -1;
    graveyard_release(&y);  /* finalizers of old values run now, after the last update */
    if (r == 0 && payload != NULL) {
        r = in_order_deliver(o, &g, ts, payload);
    }
    Py_XDECREF(payload);
    Py_XDECREF(ts);
    segment_release(&g);
    if (r < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

static PyObject *
InOrderPath_vectorcall(PyObject *o, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (kwnames != NULL || PyVectorcall_NARGS(nargsf) != 1) {
        PyErr_SetString(PyExc_TypeError, "InOrderPath takes one packet");
        return NULL;
    }
    return in_order((InOrderPath *)o, args[0]);
}

static PyMemberDef InOrderPath_members[] = {
    {"taken", T_LONGLONG, offsetof(InOrderPath, taken), 0,
     "packets taken (_assemble_yielding adds them to stats.packets at its end)"},
    {NULL}
};

PyTypeObject InOrderPathType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pktspec.runtime._fastpath.InOrderPath",
    .tp_basicsize = sizeof(InOrderPath),
    .tp_dealloc = (destructor)InOrderPath_dealloc,
    .tp_vectorcall_offset = offsetof(InOrderPath, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)InOrderPath_traverse,
    .tp_clear = (inquiry)InOrderPath_clear,
    .tp_doc = "The TCP assembler's in-order path in C (reassembly/tcp.py is its specification).",
    .tp_new = InOrderPath_new,
    .tp_members = InOrderPath_members,
};
