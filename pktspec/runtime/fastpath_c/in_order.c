/* The TCP assembler's in-order path (see fastpath.h). */
#include "fastpath.h"

/* ---- the TCP assembler's in-order path ---------------------------------------------- */

/* InOrderPath(assembler, sides, move_to_end, classes) is reassembly/tcp.py's in-order path
 * of _assemble_yielding (the segment that continues a calm side exactly where it left off),
 * run in C; calling it with a packet takes the packet and returns True, or returns False
 * having changed nothing (not the usual TCP packet, not in order, or a value it does not
 * handle), and Python's own loop then takes the packet as before. tcp.py's loop is its
 * specification, statement for statement. `taken` counts the packets it took (tests). */

typedef struct {
    PyObject_HEAD
    PyObject *assembler, *assembler_dict, *sides, *move_to_end;
    PyObject *tcp, *ipv4, *ipv6, *info_type, *chunk_type, *side_type, *conn_type, *stats_type;
    long long taken;
    /* slot offsets: layers */
    Py_ssize_t l_off, l_hend, l_pend, l_buf;
    Py_ssize_t t_flags, t_seq, t_window, t_sport, t_dport;
    Py_ssize_t v4_flags, v4_frag, v4_src, v4_dst, v6_next, v6_src, v6_dst;
    /* Side, Connection, StreamStats */
    Py_ssize_t s_calm, s_nxt_seq, s_conn, s_stats, s_window, s_nxt, s_peer, s_sink, s_dir;
    Py_ssize_t c_last_seen, c_index, c_stream;
    Py_ssize_t st_packets, st_last, st_zwp, st_bytes;
    vectorcallfunc vectorcall;
} InOrderPath;

static PyObject *InOrderPath_vectorcall(PyObject *o, PyObject *const *args, size_t nargsf,
                                        PyObject *kwnames);

static int
InOrderPath_traverse(InOrderPath *o, visitproc visit, void *arg)
{
    Py_VISIT(o->assembler);
    Py_VISIT(o->assembler_dict);
    Py_VISIT(o->sides);
    Py_VISIT(o->move_to_end);
    Py_VISIT(o->tcp);
    Py_VISIT(o->ipv4);
    Py_VISIT(o->ipv6);
    Py_VISIT(o->info_type);
    Py_VISIT(o->chunk_type);
    Py_VISIT(o->side_type);
    Py_VISIT(o->conn_type);
    Py_VISIT(o->stats_type);
    return 0;
}

static int
InOrderPath_clear(InOrderPath *o)
{
    Py_CLEAR(o->assembler);
    Py_CLEAR(o->assembler_dict);
    Py_CLEAR(o->sides);
    Py_CLEAR(o->move_to_end);
    Py_CLEAR(o->tcp);
    Py_CLEAR(o->ipv4);
    Py_CLEAR(o->ipv6);
    Py_CLEAR(o->info_type);
    Py_CLEAR(o->chunk_type);
    Py_CLEAR(o->side_type);
    Py_CLEAR(o->conn_type);
    Py_CLEAR(o->stats_type);
    return 0;
}

static void
InOrderPath_dealloc(InOrderPath *o)
{
    PyObject_GC_UnTrack(o);
    InOrderPath_clear(o);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyObject *
InOrderPath_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *assembler, *sides, *move_to_end, *tcp, *ipv4, *ipv6, *info_type, *chunk_type,
        *side_type, *conn_type, *stats_type;
    if (!PyArg_ParseTuple(args, "OO!OO!O!O!O!O!O!O!O!:InOrderPath", &assembler, &PyDict_Type,
                          &sides, &move_to_end, &PyType_Type, &tcp, &PyType_Type, &ipv4,
                          &PyType_Type, &ipv6, &PyType_Type, &info_type, &PyType_Type,
                          &chunk_type, &PyType_Type, &side_type, &PyType_Type, &conn_type,
                          &PyType_Type, &stats_type)) {
        return NULL;
    }
    if (check_configured() < 0) {
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
    InOrderPath *o = (InOrderPath *)type->tp_alloc(type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->assembler = Py_NewRef(assembler);
    o->assembler_dict = Py_NewRef(*dictptr);
    o->sides = Py_NewRef(sides);
    o->move_to_end = Py_NewRef(move_to_end);
    o->tcp = Py_NewRef(tcp);
    o->ipv4 = Py_NewRef(ipv4);
    o->ipv6 = Py_NewRef(ipv6);
    o->info_type = Py_NewRef(info_type);
    o->chunk_type = Py_NewRef(chunk_type);
    o->side_type = Py_NewRef(side_type);
    o->conn_type = Py_NewRef(conn_type);
    o->stats_type = Py_NewRef(stats_type);
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

/* obj's slot += by (an int slot; checked by the caller to be one) */
static inline int
slot_add(PyObject *obj, Py_ssize_t off, long long value)
{
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL) {
        return -1;
    }
    set_slot(obj, off, v);
    return 0;
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
    return -1;  /* not a bool: Python's loop decides */
}

/* The checks of tcp.py's in-order branch, reading only: 1 when the packet takes that path
 * (side, conn, stats filled, new references), 0 when it does not (nothing held). */
typedef struct {
    PyObject *side, *conn, *stats, *tcp;
    double ts;
    long long nxt_seq, hend, pend, nxt, packets, bytes, zwp;
} InOrderSegment;

static int
in_order_check(InOrderPath *o, PyObject *packet, InOrderSegment *g)
{
    if (Py_TYPE(packet) != (PyTypeObject *)RT.packet_type) {
        return 0;
    }
    PyObject *tcp = SLOT(packet, RT.p_trans);
    if (tcp == NULL || Py_TYPE(tcp) != (PyTypeObject *)o->tcp) {
        return 0;
    }
    PyObject *layers = SLOT(packet, RT.p_layers);
    if (layers == NULL || !PyList_CheckExact(layers) || PyList_GET_SIZE(layers) == 0) {
        return 0;
    }
    if (_PyType_Lookup(Py_TYPE(PyList_GET_ITEM(layers, 0)), s_quotes) != Py_False) {
        return 0;  /* a link layer that quotes another packet: Python's loop */
    }
    PyObject *net = SLOT(packet, RT.p_net);
    if (net == NULL) {
        return 0;
    }
    long long toff, nhend, v;
    PyObject *src, *dst;
    if (Py_TYPE(net) == (PyTypeObject *)o->ipv4) {
        if (!slot_int(tcp, o->l_off, &toff) || !slot_int(net, o->l_hend, &nhend)
            || toff != nhend || !slot_int(net, o->v4_flags, &v) || (v & 1)
            || !slot_int(net, o->v4_frag, &v) || v) {
            return 0;
        }
        src = SLOT(net, o->v4_src);
        dst = SLOT(net, o->v4_dst);
    }
    else if (Py_TYPE(net) == (PyTypeObject *)o->ipv6) {
        if (!slot_int(tcp, o->l_off, &toff) || !slot_int(net, o->l_hend, &nhend)
            || toff != nhend || !slot_int(net, o->v6_next, &v) || v != 6) {
            return 0;
        }
        src = SLOT(net, o->v6_src);
        dst = SLOT(net, o->v6_dst);
    }
    else {
        return 0;
    }
    PyObject *sport = SLOT(tcp, o->t_sport), *dport = SLOT(tcp, o->t_dport);
    if (src == NULL || dst == NULL || sport == NULL || dport == NULL) {
        return 0;
    }
    PyObject *key = PyTuple_Pack(4, src, sport, dst, dport);
    if (key == NULL) {
        return -1;
    }
    PyObject *side = PyDict_GetItemWithError(o->sides, key);  /* borrowed */
    Py_DECREF(key);
    if (side == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!Py_IS_TYPE(side, (PyTypeObject *)o->side_type)) {
        return 0;
    }
    /* the time: meta[0] + meta[1] / meta[2] of a CaptureInfo (others: Python's loop) */
    PyObject *meta = SLOT(packet, RT.p_metadata);
    if (meta == NULL || Py_TYPE(meta) != (PyTypeObject *)o->info_type
        || PyTuple_GET_SIZE(meta) < 3) {
        return 0;
    }
    PyObject *m0 = PyTuple_GET_ITEM(meta, 0), *m1 = PyTuple_GET_ITEM(meta, 1),
             *m2 = PyTuple_GET_ITEM(meta, 2);
    if (!PyLong_CheckExact(m0) || !PyLong_CheckExact(m1) || !PyLong_CheckExact(m2)) {
        return 0;
    }
    long long sec = PyLong_AsLongLong(m0), frac = PyLong_AsLongLong(m1),
              res = PyLong_AsLongLong(m2);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    const long long exact = (long long)1 << 53;  /* where int -> float is exact */
    if (res <= 0 || sec < 0 || sec >= exact || frac < 0 || frac >= exact || res >= exact) {
        return 0;
    }
    g->ts = (double)sec + (double)frac / (double)res;
    /* the side must be calm and this segment its next, with no SYN, FIN or RST */
    long long flags, seq;
    if (!slot_int(tcp, o->t_flags, &flags) || (flags & 0x7) || !slot_int(tcp, o->t_seq, &seq)
        || slot_truth(side, o->s_calm) != 1 || !slot_int(side, o->s_nxt_seq, &g->nxt_seq)
        || seq != g->nxt_seq) {
        return 0;
    }
    PyObject *conn = SLOT(side, o->s_conn), *stats = SLOT(side, o->s_stats);
    PyObject *peer = SLOT(side, o->s_peer);
    if (conn == NULL || !Py_IS_TYPE(conn, (PyTypeObject *)o->conn_type) || stats == NULL
        || !Py_IS_TYPE(stats, (PyTypeObject *)o->stats_type) || peer == NULL
        || !Py_IS_TYPE(peer, (PyTypeObject *)o->side_type) || SLOT(peer, o->s_window) == NULL
        || SLOT(tcp, o->t_window) == NULL || SLOT(tcp, o->l_buf) == NULL
        || SLOT(conn, o->c_index) == NULL || SLOT(side, o->s_dir) == NULL
        || !slot_int(tcp, o->l_hend, &g->hend) || !slot_int(tcp, o->l_pend, &g->pend)
        || !slot_int(side, o->s_nxt, &g->nxt) || !slot_int(stats, o->st_packets, &g->packets)
        || !slot_int(stats, o->st_bytes, &g->bytes) || !slot_int(stats, o->st_zwp, &g->zwp)
        || g->hend < 0 || g->pend < 0 || g->pend - g->hend > ((long long)1 << 40)
        || g->nxt > ((long long)1 << 60) || g->bytes > ((long long)1 << 60)
        || g->packets > ((long long)1 << 60) || g->zwp > ((long long)1 << 60)) {
        return 0;
    }
    /* held from here on: the updates call Python (move_to_end, a stream) */
    g->side = Py_NewRef(side);
    g->conn = Py_NewRef(conn);
    g->stats = Py_NewRef(stats);
    g->tcp = Py_NewRef(tcp);
    return 1;
}

/* What tcp.py's in-order branch does with a segment that passed the checks, in its order.
 * 0, or -1 with an exception (from move_to_end or the stream, as in Python). */
static int
in_order_take(InOrderPath *o, InOrderSegment *g)
{
    PyObject *side = g->side, *conn = g->conn, *stats = g->stats, *tcp = g->tcp;
    PyObject *tsobj = PyFloat_FromDouble(g->ts);
    if (tsobj == NULL) {
        return -1;
    }
    int result = -1;
    PyObject *payload = NULL;
    set_slot(conn, o->c_last_seen, Py_NewRef(tsobj));
    PyObject *recent = PyDict_GetItemWithError(o->assembler_dict, s_recent);
    if (recent == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (conn != recent) {
        PyObject *index = Py_NewRef(SLOT(conn, o->c_index));
        PyObject *r = PyObject_CallOneArg(o->move_to_end, index);
        Py_DECREF(index);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
        if (PyDict_SetItem(o->assembler_dict, s_recent, conn) < 0) {
            goto done;
        }
    }
    o->taken++;
    if (slot_add(stats, o->st_packets, g->packets + 1) < 0) {
        goto done;
    }
    set_slot(stats, o->st_last, Py_NewRef(tsobj));
    set_slot(side, o->s_window, Py_NewRef(SLOT(tcp, o->t_window)));
    long long n = g->pend - g->hend;
    if (n <= 0) {
        result = 0;
        goto done;
    }
    payload = PySequence_GetSlice(SLOT(tcp, o->l_buf), (Py_ssize_t)g->hend,
                                  (Py_ssize_t)g->pend);
    if (payload != NULL && !PyBytes_CheckExact(payload)) {
        Py_SETREF(payload, PyBytes_FromObject(payload));  /* copy=False: never keep the buffer */
    }
    if (payload == NULL) {
        goto done;
    }
    if (n == 1) {
        PyObject *peer = SLOT(side, o->s_peer);
        PyObject *peer_window = peer ? SLOT(peer, o->s_window) : NULL;
        if (peer_window == NULL) {
            PyErr_SetString(PyExc_AttributeError, "window");
            goto done;
        }
        Py_INCREF(peer_window);
        int zero = PyObject_RichCompareBool(peer_window, long_zero, Py_EQ);
        Py_DECREF(peer_window);
        if (zero < 0 || (zero && slot_add(stats, o->st_zwp, g->zwp + 1) < 0)) {
            goto done;
        }
    }
    long long start = g->nxt;
    if (slot_add(side, o->s_nxt, start + n) < 0
        || slot_add(side, o->s_nxt_seq, (g->nxt_seq + n) & 0xFFFFFFFFLL) < 0
        || slot_add(stats, o->st_bytes, g->bytes + n) < 0) {
        goto done;
    }
    PyObject *stream = SLOT(conn, o->c_stream);
    if (stream == NULL || stream == Py_None) {
        result = 0;
        goto done;
    }
    Py_INCREF(stream);
    PyObject *sink = SLOT(side, o->s_sink);
    PyObject *r = NULL;
    if (sink != NULL && sink != Py_None) {
        r = PyList_CheckExact(sink) ? (PyList_Append(sink, payload) < 0 ? NULL : Py_NewRef(Py_None))
                                    : PyObject_CallMethod(sink, "append", "O", payload);
    }
    else {
        PyObject *chunk = ((PyTypeObject *)o->chunk_type)->tp_alloc(
            (PyTypeObject *)o->chunk_type, 5);
        PyObject *start_obj = PyLong_FromLongLong(start);
        if (chunk != NULL && start_obj != NULL) {
            PyTuple_SET_ITEM(chunk, 0, Py_NewRef(payload));
            PyTuple_SET_ITEM(chunk, 1, PyLong_FromLong(0));
            PyTuple_SET_ITEM(chunk, 2, Py_NewRef(SLOT(side, o->s_dir)));
            PyTuple_SET_ITEM(chunk, 3, start_obj);
            PyTuple_SET_ITEM(chunk, 4, Py_NewRef(tsobj));
            r = PyObject_CallMethodOneArg(stream, s_reassembled, chunk);
        }
        else {
            Py_XDECREF(start_obj);
        }
        Py_XDECREF(chunk);
    }
    Py_DECREF(stream);
    if (r != NULL) {
        Py_DECREF(r);
        result = 0;
    }
done:
    Py_XDECREF(payload);
    Py_DECREF(tsobj);
    return result;
}

static PyObject *
in_order(InOrderPath *o, PyObject *packet)
{
    if (o->sides == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the in-order path was cleared");
        return NULL;
    }
    InOrderSegment g;
    int r = in_order_check(o, packet, &g);
    if (r <= 0) {
        if (r < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    r = in_order_take(o, &g);
    Py_DECREF(g.side);
    Py_DECREF(g.conn);
    Py_DECREF(g.stats);
    Py_DECREF(g.tcp);
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
     "packets taken so far (for tests; tcp.py keeps the assembler's counts)"},
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

