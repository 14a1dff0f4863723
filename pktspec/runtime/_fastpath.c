/*
 * pktspec.runtime._fastpath: the optional compiled decode loop.
 *
 * Why it exists: the generated Python decoders are as short as Python allows, and what is
 * left of a packet's decoding time is the interpreter around them (one Python call, one
 * object and a dozen attribute stores per layer, the loop itself). This module runs the same
 * loop in C and, for every layer whose generated `_decode` could be restated as a program
 * (pktspec/generator/fast_program.py), runs that program instead of the Python method: struct
 * reads, 64-bit integer arithmetic, bounds, slot stores and the dispatch-table lookup.
 *
 * The contract that keeps it honest: a program never raises a decoding error. Whenever it
 * meets a `raise` of the Python decoder, or anything it would not do exactly as Python does
 * (a read outside the buffer, an integer leaving 64 bits, a slot that holds no integer), it
 * aborts, and the layer is decoded again by its Python `_decode` (on a fresh object in an
 * eager decode). Python's decoder stays the reference; this is a cache of its happy path.
 *
 * Nothing here knows a protocol: the programs are data made by the generator from .layer
 * files. The pure-Python loops in packet.py and parser.py are the specification of
 * decode_eager and of the Parser's decoder below, statement for statement.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define FORMAT_VERSION 1
#define MAX_REGS 64
#define MAX_DEPTH 64

/* ---- expressions -------------------------------------------------------------------- */

enum {
    E_CONST, E_REG, E_SLOT, E_BYTE, E_ADD, E_SUB, E_MUL, E_FLOORDIV, E_MOD, E_BAND, E_BOR,
    E_BXOR, E_SHL, E_SHR, E_LT, E_LE, E_GT, E_GE, E_EQ, E_NE, E_NOT, E_NEG, E_INV, E_AND,
    E_OR, E_IF
};

static const char *const EXPR_NAMES[] = {
    "c", "r", "s", "b", "+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">",
    ">=", "==", "!=", "not", "neg", "inv", "and", "or", "if", NULL
};

typedef struct {
    int op;
    int a, b, c;      /* child nodes, or the register / slot index */
    int64_t value;    /* E_CONST */
} Node;

/* ---- statements --------------------------------------------------------------------- */

enum { S_ABORT, S_RET, S_JF, S_J, S_REG, S_SET, S_OBJ, S_BUF, S_TUPLE, S_SLICE, S_UNPACK,
       S_DISPATCH, S_ABORTIF };

static const char *const STMT_NAMES[] = {
    "abort", "ret", "jf", "j", "reg", "set", "obj", "buf", "tuple", "slice", "unpack",
    "dispatch", "abortif", NULL
};

typedef struct {
    int op;
    int a, b, c, d, e;
} Stmt;

/* one struct item of an unpack: where it is and where it goes */
enum { D_SLOT, D_REG, D_INT };

typedef struct {
    char code;        /* B b H h I i L l Q q ? s */
    int size;
    int at;
    int dest_kind;
    int dest;
    int little;       /* D_INT: the byte order of int.from_bytes */
    int is_signed;    /* D_INT */
} Item;

struct Ctx_;

typedef struct {
    PyObject_HEAD
    PyObject *owner;      /* the layer class the program was made for */
    PyObject *decode;     /* the _decode it restates: if the class's is another (patched),
                             the program is not used */
    PyObject *globals;    /* its _decode's globals: tables and classes, read at run time */
    PyObject *names;      /* tuple of str */
    int nregs, nslots, nstmts, nnodes, nitems, nlist;
    Py_ssize_t *slot_offsets;
    Stmt *stmts;
    Node *nodes;
    Item *items;
    int *lists;           /* expression lists (tuple items, dispatch keys) */
    int (*native)(struct Ctx_ *, PyObject **);  /* the compiled form, for built-in layers */
} Program;

static PyTypeObject ProgramType;

/* interned names and the runtime's objects, set by configure() */
static PyObject *s_decode, *s_heuristics, *s_guarded, *s_lookup, *s_refused, *s_guard,
    *s_fail, *s_fast, *s_layer_class, *s_payload, *s_name;
static PyObject *empty_tuple, *long_zero;

typedef struct {
    int configured;
    PyObject *packet_type;
    PyObject *layer_type;
    PyObject *link, *network, *transport;
    PyObject *registry;
    PyObject *python_decode_eager;
    PyObject *too_deep;           /* _too_deep(cls, off) -> DecodeError (packet.py) */
    PyObject *as_decode_error;    /* _as_decode_error(exc, cls, off) */
    PyObject *table_type;         /* DispatchTable: its heuristics and guarded are slots */
    Py_ssize_t d_heuristics, d_guarded;
    Py_ssize_t max_layers;
    Py_ssize_t p_data, p_metadata, p_strict, p_error, p_tail, p_net, p_trans, p_pending,
        p_layers;
    Py_ssize_t l_hend, l_pend;
    Py_ssize_t o_unsupported, o_error;
} Runtime;

static Runtime RT;

/* ---- helpers ------------------------------------------------------------------------ */

/* The byte offset of a __slots__ member named name in type, or -1 (error set). */
static Py_ssize_t
member_offset(PyTypeObject *type, PyObject *name)
{
    PyObject *descr = _PyType_Lookup(type, name);
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)
        || !PyType_IsSubtype(type, PyDescr_TYPE(descr))) {
        PyErr_Format(PyExc_TypeError, "%s.%U is not a __slots__ member", type->tp_name,
                     name);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        PyErr_Format(PyExc_TypeError, "%s.%U is not a writable object slot",
                     type->tp_name, name);
        return -1;
    }
    return member->offset;
}

static Py_ssize_t
member_offset_str(PyObject *type, const char *name)
{
    PyObject *key = PyUnicode_InternFromString(name);
    if (key == NULL) {
        return -1;
    }
    Py_ssize_t off = member_offset((PyTypeObject *)type, key);
    Py_DECREF(key);
    return off;
}

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Store value (a new reference, stolen) in obj's slot at off. */
static inline void
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

static int
name_index(const char *const *names, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(text);
    if (s == NULL) {
        PyErr_Clear();
        return -1;
    }
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- compiling a program tuple ------------------------------------------------------ */

typedef struct {
    Program *p;
    int cap_nodes, cap_items, cap_list;
} Builder;

static int bad(const char *what)
{
    PyErr_Format(PyExc_ValueError, "bad fast-path program: %s", what);
    return -1;
}

static int
get_int(PyObject *tuple, Py_ssize_t i, long long lo, long long hi, long long *out)
{
    if (!PyTuple_Check(tuple) || i >= PyTuple_GET_SIZE(tuple)) {
        return bad("missing operand");
    }
    PyObject *item = PyTuple_GET_ITEM(tuple, i);
    if (!PyLong_Check(item)) {
        return bad("operand is not an integer");
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow || v < lo || v > hi) {
        return bad("operand out of range");
    }
    *out = v;
    return 0;
}

static int
grow(void **array, int *cap, int need, size_t size)
{
    if (need <= *cap) {
        return 0;
    }
    int cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need) {
        cap2 *= 2;
    }
    void *p = PyMem_Realloc(*array, (size_t)cap2 * size);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *array = p;
    *cap = cap2;
    return 0;
}

/* Compile expression tuple t; returns its node index or -1. */
static int
compile_expr(Builder *b, PyObject *t, int depth)
{
    Program *p = b->p;
    if (depth > MAX_DEPTH) {
        return bad("expression too deep");
    }
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 2) {
        return bad("expression is not a tuple");
    }
    int op = name_index(EXPR_NAMES, PyTuple_GET_ITEM(t, 0));
    if (op < 0) {
        return bad("unknown expression");
    }
    Node node = {op, -1, -1, -1, 0};
    long long v;
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    switch (op) {
    case E_CONST:
        if (get_int(t, 1, INT64_MIN / 2, INT64_MAX / 2, &v) < 0) {
            return -1;
        }
        node.value = v;
        break;
    case E_REG:
        if (get_int(t, 1, 0, p->nregs - 1, &v) < 0) {
            return -1;
        }
        node.a = (int)v;
        break;
    case E_SLOT:
        if (get_int(t, 1, 0, p->nslots - 1, &v) < 0) {
            return -1;
        }
        node.a = (int)v;
        break;
    case E_BYTE: case E_NOT: case E_NEG: case E_INV:
        if (n != 2 || (node.a = compile_expr(b, PyTuple_GET_ITEM(t, 1), depth + 1)) < 0) {
            return n != 2 ? bad("unary arity") : -1;
        }
        break;
    case E_IF:
        if (n != 4) {
            return bad("conditional arity");
        }
        if ((node.a = compile_expr(b, PyTuple_GET_ITEM(t, 1), depth + 1)) < 0
            || (node.b = compile_expr(b, PyTuple_GET_ITEM(t, 2), depth + 1)) < 0
            || (node.c = compile_expr(b, PyTuple_GET_ITEM(t, 3), depth + 1)) < 0) {
            return -1;
        }
        break;
    default:
        if (n != 3) {
            return bad("binary arity");
        }
        if ((node.a = compile_expr(b, PyTuple_GET_ITEM(t, 1), depth + 1)) < 0
            || (node.b = compile_expr(b, PyTuple_GET_ITEM(t, 2), depth + 1)) < 0) {
            return -1;
        }
    }
    if (grow((void **)&p->nodes, &b->cap_nodes, p->nnodes + 1, sizeof(Node)) < 0) {
        return -1;
    }
    p->nodes[p->nnodes] = node;
    return p->nnodes++;
}

/* Compile a tuple of expressions into the list pool; returns its start or -1. */
static int
compile_list(Builder *b, PyObject *t, int *count)
{
    Program *p = b->p;
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) > 16) {
        return bad("expression list");
    }
    int n = (int)PyTuple_GET_SIZE(t);
    int nodes[16];
    for (int i = 0; i < n; i++) {
        if ((nodes[i] = compile_expr(b, PyTuple_GET_ITEM(t, i), 0)) < 0) {
            return -1;
        }
    }
    if (grow((void **)&p->lists, &b->cap_list, p->nlist + n + 1, sizeof(int)) < 0) {
        return -1;
    }
    int start = p->nlist;
    memcpy(p->lists + start, nodes, (size_t)n * sizeof(int));
    p->nlist += n;
    *count = n;
    return start;
}

static int
compile_items(Builder *b, PyObject *items, int total, int *count)
{
    Program *p = b->p;
    if (!PyTuple_Check(items)) {
        return bad("unpack items");
    }
    int n = (int)PyTuple_GET_SIZE(items);
    if (grow((void **)&p->items, &b->cap_items, p->nitems + n, sizeof(Item)) < 0) {
        return -1;
    }
    int start = p->nitems;
    for (int i = 0; i < n; i++) {
        PyObject *t = PyTuple_GET_ITEM(items, i);
        long long size, at, dest, is_signed = 0;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 5) {
            return bad("unpack item");
        }
        PyObject *code = PyTuple_GET_ITEM(t, 0), *kind = PyTuple_GET_ITEM(t, 3);
        if (!PyUnicode_Check(code) || PyUnicode_GET_LENGTH(code) != 1
            || !PyUnicode_Check(kind)) {
            return bad("unpack item code");
        }
        Item it;
        memset(&it, 0, sizeof it);
        it.code = (char)PyUnicode_READ_CHAR(code, 0);
        if (strchr("BbHhIiLlQq?s", it.code) == NULL || it.code == '\0') {
            return bad("unpack item code");
        }
        if (get_int(t, 1, 1, 1 << 20, &size) < 0 || get_int(t, 2, 0, total - size, &at) < 0) {
            return -1;
        }
        int expect = strchr("Bb?", it.code) ? 1 : strchr("Hh", it.code) ? 2
                   : strchr("IiLl", it.code) ? 4 : strchr("Qq", it.code) ? 8 : (int)size;
        if (size != expect) {
            return bad("unpack item size");
        }
        it.size = (int)size;
        it.at = (int)at;
        const char *k = PyUnicode_AsUTF8(kind);
        if (k == NULL) {
            return -1;
        }
        if (strcmp(k, "slot") == 0) {
            it.dest_kind = D_SLOT;
            if (get_int(t, 4, 0, p->nslots - 1, &dest) < 0) {
                return -1;
            }
        }
        else if (strcmp(k, "reg") == 0 && it.code != 's' && it.code != '?') {
            it.dest_kind = D_REG;
            if (get_int(t, 4, 0, p->nregs - 1, &dest) < 0) {
                return -1;
            }
        }
        else if (strcmp(k, "int") == 0 && it.code == 's' && size <= 8
                 && PyTuple_GET_SIZE(t) == 7) {
            it.dest_kind = D_INT;
            PyObject *order = PyTuple_GET_ITEM(t, 5);
            if (!PyUnicode_Check(order)) {
                return bad("byte order");
            }
            it.little = PyUnicode_CompareWithASCIIString(order, "little") == 0;
            if (!it.little && PyUnicode_CompareWithASCIIString(order, "big") != 0) {
                return bad("byte order");
            }
            if (get_int(t, 4, 0, p->nregs - 1, &dest) < 0
                || get_int(t, 6, 0, 1, &is_signed) < 0) {
                return -1;
            }
        }
        else {
            return bad("unpack destination");
        }
        it.dest = (int)dest;
        it.is_signed = (int)is_signed;
        p->items[start + i] = it;
    }
    p->nitems += n;
    *count = n;
    return start;
}

static int
compile_stmt(Builder *b, PyObject *t, int pc, Stmt *s)
{
    Program *p = b->p;
    long long v;
    int count;
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 1) {
        return bad("statement is not a tuple");
    }
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    memset(s, 0, sizeof *s);
    s->op = name_index(STMT_NAMES, PyTuple_GET_ITEM(t, 0));
    switch (s->op) {
    case S_ABORT:
        return 0;
    case S_RET:
        if (get_int(t, 1, -1, PyTuple_GET_SIZE(p->names) - 1, &v) < 0) {
            return -1;
        }
        s->a = (int)v;
        return 0;
    case S_JF:
        if (n != 3 || (s->a = compile_expr(b, PyTuple_GET_ITEM(t, 1), 0)) < 0) {
            return n != 3 ? bad("jf arity") : -1;
        }
        /* forward jumps only: every program ends */
        if (get_int(t, 2, pc + 1, p->nstmts, &v) < 0) {
            return -1;
        }
        s->b = (int)v;
        return 0;
    case S_ABORTIF:
        if (n != 2) {
            return bad("abortif arity");
        }
        return (s->a = compile_expr(b, PyTuple_GET_ITEM(t, 1), 0)) < 0 ? -1 : 0;
    case S_J:
        if (get_int(t, 1, pc + 1, p->nstmts, &v) < 0) {
            return -1;
        }
        s->a = (int)v;
        return 0;
    case S_REG:
        if (n != 3 || get_int(t, 1, 0, p->nregs - 1, &v) < 0) {
            return n != 3 ? bad("reg arity") : -1;
        }
        s->a = (int)v;
        return (s->b = compile_expr(b, PyTuple_GET_ITEM(t, 2), 0)) < 0 ? -1 : 0;
    case S_SET: {
        if (n != 4 || get_int(t, 1, 0, p->nslots - 1, &v) < 0) {
            return n != 4 ? bad("set arity") : -1;
        }
        s->a = (int)v;
        if ((s->b = compile_expr(b, PyTuple_GET_ITEM(t, 2), 0)) < 0) {
            return -1;
        }
        PyObject *kind = PyTuple_GET_ITEM(t, 3);
        if (!PyUnicode_Check(kind)) {
            return bad("set kind");
        }
        if (PyUnicode_CompareWithASCIIString(kind, "b") == 0) {
            s->c = 1;
        }
        else if (PyUnicode_CompareWithASCIIString(kind, "i") != 0) {
            return bad("set kind");
        }
        return 0;
    }
    case S_OBJ:
        if (get_int(t, 1, 0, p->nslots - 1, &v) < 0) {
            return -1;
        }
        s->a = (int)v;
        if (get_int(t, 2, 0, 1, &v) < 0) {
            return -1;
        }
        s->b = (int)v;
        return 0;
    case S_BUF:
        if (get_int(t, 1, 0, p->nslots - 1, &v) < 0) {
            return -1;
        }
        s->a = (int)v;
        return 0;
    case S_TUPLE:
        if (n != 3 || get_int(t, 1, 0, p->nslots - 1, &v) < 0) {
            return n != 3 ? bad("tuple arity") : -1;
        }
        s->a = (int)v;
        if ((s->b = compile_list(b, PyTuple_GET_ITEM(t, 2), &count)) < 0) {
            return -1;
        }
        s->c = count;
        return 0;
    case S_SLICE:
        if (n != 5 || get_int(t, 1, 0, p->nslots - 1, &v) < 0) {
            return n != 5 ? bad("slice arity") : -1;
        }
        s->a = (int)v;
        if ((s->b = compile_expr(b, PyTuple_GET_ITEM(t, 2), 0)) < 0
            || (s->c = compile_expr(b, PyTuple_GET_ITEM(t, 3), 0)) < 0
            || get_int(t, 4, 0, 1, &v) < 0) {
            return -1;
        }
        s->d = (int)v;
        return 0;
    case S_UNPACK: {
        long long total;
        if (n != 5 || (s->a = compile_expr(b, PyTuple_GET_ITEM(t, 1), 0)) < 0) {
            return n != 5 ? bad("unpack arity") : -1;
        }
        if (get_int(t, 2, 1, 1 << 20, &total) < 0) {
            return -1;
        }
        s->b = (int)total;
        PyObject *endian = PyTuple_GET_ITEM(t, 3);
        if (!PyUnicode_Check(endian)) {
            return bad("unpack byte order");
        }
        s->e = PyUnicode_CompareWithASCIIString(endian, "<") == 0;
        if (!s->e && PyUnicode_CompareWithASCIIString(endian, ">") != 0) {
            return bad("unpack byte order");
        }
        if ((s->c = compile_items(b, PyTuple_GET_ITEM(t, 4), s->b, &count)) < 0) {
            return -1;
        }
        s->d = count;
        return 0;
    }
    case S_DISPATCH:
        if (n != 5 || get_int(t, 1, 0, PyTuple_GET_SIZE(p->names) - 1, &v) < 0) {
            return n != 5 ? bad("dispatch arity") : -1;
        }
        s->a = (int)v;
        if ((s->b = compile_list(b, PyTuple_GET_ITEM(t, 2), &count)) < 0) {
            return -1;
        }
        if (count < 1 || count > 2) {
            return bad("dispatch keys");
        }
        s->c = count;
        if (get_int(t, 3, 0, p->nregs - 1, &v) < 0) {
            return -1;
        }
        s->d = (int)v;
        if (get_int(t, 4, 0, p->nregs - 1, &v) < 0) {
            return -1;
        }
        s->e = (int)v;
        return 0;
    default:
        return bad("unknown statement");
    }
}

/* A Program refers to its class, which refers to it (cls._fast): the collector must see
 * the cycle, or a class made at run time (a reloaded .layer file) would never be freed. */
static int
Program_traverse(Program *p, visitproc visit, void *arg)
{
    Py_VISIT(p->owner);
    Py_VISIT(p->decode);
    Py_VISIT(p->globals);
    Py_VISIT(p->names);
    return 0;
}

static int
Program_clear(Program *p)
{
    Py_CLEAR(p->owner);
    Py_CLEAR(p->decode);
    Py_CLEAR(p->globals);
    Py_CLEAR(p->names);
    return 0;
}

static void
Program_dealloc(Program *p)
{
    PyObject_GC_UnTrack(p);
    Program_clear(p);
    PyMem_Free(p->slot_offsets);
    PyMem_Free(p->stmts);
    PyMem_Free(p->nodes);
    PyMem_Free(p->items);
    PyMem_Free(p->lists);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static void bind_native(Program *p, const char *key);

/* Program(program, cls, globals, key=None): check and compile a generated _PROGRAM for cls;
 * key names its compiled form among the built-in layers' (native_program.py). */
static PyObject *
Program_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *spec, *cls, *globals;
    const char *key = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O!|z:Program", &PyTuple_Type, &spec, &PyType_Type, &cls,
                          &PyDict_Type, &globals, &key)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(spec) != 5) {
        bad("not a 5-tuple");
        return NULL;
    }
    long long version, nregs;
    if (get_int(spec, 0, FORMAT_VERSION, FORMAT_VERSION, &version) < 0
        || get_int(spec, 1, 2, MAX_REGS, &nregs) < 0) {
        return NULL;
    }
    PyObject *slots = PyTuple_GET_ITEM(spec, 2), *names = PyTuple_GET_ITEM(spec, 3),
             *code = PyTuple_GET_ITEM(spec, 4);
    if (!PyTuple_Check(slots) || !PyTuple_Check(names) || !PyTuple_Check(code)
        || PyTuple_GET_SIZE(code) == 0 || PyTuple_GET_SIZE(code) > 100000) {
        bad("slots, names and code must be tuples");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i))) {
            bad("names must be str");
            return NULL;
        }
    }
    Program *p = (Program *)type->tp_alloc(type, 0);
    if (p == NULL) {
        return NULL;
    }
    Py_INCREF(cls);
    p->owner = cls;
    p->decode = _PyType_Lookup((PyTypeObject *)cls, s_decode);
    if (p->decode == NULL) {
        Py_DECREF(p);
        PyErr_SetString(PyExc_TypeError, "the class has no _decode");
        return NULL;
    }
    Py_INCREF(p->decode);
    Py_INCREF(globals);
    p->globals = globals;
    Py_INCREF(names);
    p->names = names;
    p->nregs = (int)nregs;
    p->nslots = (int)PyTuple_GET_SIZE(slots);
    p->nstmts = (int)PyTuple_GET_SIZE(code);
    p->slot_offsets = PyMem_Calloc((size_t)p->nslots + 1, sizeof(Py_ssize_t));
    p->stmts = PyMem_Calloc((size_t)p->nstmts, sizeof(Stmt));
    if (p->slot_offsets == NULL || p->stmts == NULL) {
        Py_DECREF(p);
        return PyErr_NoMemory();
    }
    for (int i = 0; i < p->nslots; i++) {
        PyObject *name = PyTuple_GET_ITEM(slots, i);
        if (!PyUnicode_Check(name)
            || (p->slot_offsets[i] = member_offset((PyTypeObject *)cls, name)) < 0) {
            if (!PyErr_Occurred()) {
                bad("slot names must be str");
            }
            Py_DECREF(p);
            return NULL;
        }
    }
    Builder b = {p, 0, 0, 0};
    for (int pc = 0; pc < p->nstmts; pc++) {
        if (compile_stmt(&b, PyTuple_GET_ITEM(code, pc), pc, &p->stmts[pc]) < 0) {
            Py_DECREF(p);
            return NULL;
        }
        if (p->stmts[pc].op == S_ABORT && PyTuple_GET_SIZE(PyTuple_GET_ITEM(code, pc)) != 1) {
            bad("abort takes nothing");
            Py_DECREF(p);
            return NULL;
        }
    }
    if (key != NULL) {
        bind_native(p, key);
    }
    return (PyObject *)p;
}

static PyObject *
Program_repr(Program *p)
{
    return PyUnicode_FromFormat("<fast-path program of %s: %d statements>",
                                p->owner ? ((PyTypeObject *)p->owner)->tp_name : "?",
                                p->nstmts);
}

static PyObject *
Program_get_native(Program *p, void *closure)
{
    return PyBool_FromLong(p->native != NULL);
}

static PyGetSetDef Program_getset[] = {
    {"native", (getter)Program_get_native, NULL, "whether it runs as compiled C", NULL},
    {NULL}
};

static PyMemberDef Program_members[] = {
    {"owner", T_OBJECT, offsetof(Program, owner), READONLY, "the class it decodes"},
    {NULL}
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pktspec.runtime._fastpath.Program",
    .tp_basicsize = sizeof(Program),
    .tp_dealloc = (destructor)Program_dealloc,
    .tp_repr = (reprfunc)Program_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)Program_traverse,
    .tp_clear = (inquiry)Program_clear,
    .tp_doc = "A layer's decoder restated for the compiled loop (see fast_program.py).",
    .tp_new = Program_new,
    .tp_members = Program_members,
    .tp_getset = Program_getset,
};

/* ---- running a program -------------------------------------------------------------- */

enum { RUN_OK = 0, RUN_ABORT = 1, RUN_ERROR = -1 };

typedef struct Ctx_ {
    Program *p;
    PyObject *self;
    PyObject *buf;
    const unsigned char *data;
    Py_ssize_t len;
    int64_t regs[MAX_REGS];
} Ctx;

static int eval_node(Ctx *cx, int n, int64_t *out);

/* Registers and constants, most operands, without a call. */
static inline int
eval(Ctx *cx, int n, int64_t *out)
{
    const Node *node = &cx->p->nodes[n];
    if (node->op == E_REG) {
        *out = cx->regs[node->a];
        return RUN_OK;
    }
    if (node->op == E_CONST) {
        *out = node->value;
        return RUN_OK;
    }
    return eval_node(cx, n, out);
}

static int
eval_node(Ctx *cx, int n, int64_t *out)
{
    const Node *node = &cx->p->nodes[n];
    int64_t a, b;
    int r;
    switch (node->op) {
    case E_CONST:
        *out = node->value;
        return RUN_OK;
    case E_REG:
        *out = cx->regs[node->a];
        return RUN_OK;
    case E_SLOT: {
        PyObject *v = SLOT(cx->self, cx->p->slot_offsets[node->a]);
        if (v == NULL || !PyLong_Check(v)) {
            return RUN_ABORT;
        }
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return RUN_ABORT;
        }
        *out = x;
        return RUN_OK;
    }
    case E_BYTE:
        if ((r = eval(cx, node->a, &a)) != RUN_OK) {
            return r;
        }
        if (a < 0 || a >= cx->len) {
            return RUN_ABORT;
        }
        *out = cx->data[a];
        return RUN_OK;
    case E_NOT: case E_NEG: case E_INV:
        if ((r = eval(cx, node->a, &a)) != RUN_OK) {
            return r;
        }
        if (node->op == E_NOT) {
            *out = !a;
        }
        else if (node->op == E_INV) {
            *out = ~a;
        }
        else {
            if (a == INT64_MIN) {
                return RUN_ABORT;
            }
            *out = -a;
        }
        return RUN_OK;
    case E_AND: case E_OR:
        if ((r = eval(cx, node->a, &a)) != RUN_OK) {
            return r;
        }
        if ((node->op == E_AND) == (a == 0)) {
            *out = a;  /* Python's `and` / `or` give the operand that decided */
            return RUN_OK;
        }
        return eval(cx, node->b, out);
    case E_IF:
        if ((r = eval(cx, node->a, &a)) != RUN_OK) {
            return r;
        }
        return eval(cx, a ? node->b : node->c, out);
    default:
        break;
    }
    if ((r = eval(cx, node->a, &a)) != RUN_OK || (r = eval(cx, node->b, &b)) != RUN_OK) {
        return r;
    }
    switch (node->op) {
    case E_ADD:
        return __builtin_add_overflow(a, b, out) ? RUN_ABORT : RUN_OK;
    case E_SUB:
        return __builtin_sub_overflow(a, b, out) ? RUN_ABORT : RUN_OK;
    case E_MUL:
        return __builtin_mul_overflow(a, b, out) ? RUN_ABORT : RUN_OK;
    case E_FLOORDIV: case E_MOD: {
        if (b == 0 || (a == INT64_MIN && b == -1)) {
            return RUN_ABORT;
        }
        int64_t q = a / b, m = a % b;
        if (m != 0 && ((m < 0) != (b < 0))) {  /* Python rounds toward minus infinity */
            q -= 1;
            m += b;
        }
        *out = node->op == E_FLOORDIV ? q : m;
        return RUN_OK;
    }
    case E_BAND:
        *out = a & b;
        return RUN_OK;
    case E_BOR:
        *out = a | b;
        return RUN_OK;
    case E_BXOR:
        *out = a ^ b;
        return RUN_OK;
    case E_SHL:
        if (b < 0) {
            return RUN_ABORT;
        }
        if (a == 0) {
            *out = 0;
            return RUN_OK;
        }
        if (b >= 62) {
            return RUN_ABORT;
        }
        return __builtin_mul_overflow(a, (int64_t)1 << b, out) ? RUN_ABORT : RUN_OK;
    case E_SHR:
        if (b < 0) {
            return RUN_ABORT;
        }
        *out = b >= 63 ? (a < 0 ? -1 : 0) : (a >> b);  /* arithmetic, as Python's */
        return RUN_OK;
    case E_LT: *out = a < b; return RUN_OK;
    case E_LE: *out = a <= b; return RUN_OK;
    case E_GT: *out = a > b; return RUN_OK;
    case E_GE: *out = a >= b; return RUN_OK;
    case E_EQ: *out = a == b; return RUN_OK;
    case E_NE: *out = a != b; return RUN_OK;
    default:
        return RUN_ABORT;
    }
}

static inline uint64_t
read_uint(const unsigned char *at, int size, int little)
{
    uint64_t v = 0;
    if (little) {
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | at[i];
        }
    }
    else {
        for (int i = 0; i < size; i++) {
            v = (v << 8) | at[i];
        }
    }
    return v;
}

static inline int64_t
sign_extend(uint64_t v, int size)
{
    if (size >= 8) {
        return (int64_t)v;
    }
    uint64_t bit = (uint64_t)1 << (size * 8 - 1);
    return (int64_t)((v ^ bit) - bit);
}

static int
run_unpack(Ctx *cx, const Stmt *s)
{
    int64_t off;
    int r = eval(cx, s->a, &off);
    if (r != RUN_OK) {
        return r;
    }
    /* struct.unpack_from counts a negative offset from the end: left to Python */
    if (off < 0 || off > cx->len - s->b) {
        return RUN_ABORT;
    }
    const unsigned char *base = cx->data + off;
    const Program *p = cx->p;
    for (int i = 0; i < s->d; i++) {
        const Item *it = &p->items[s->c + i];
        const unsigned char *at = base + it->at;
        if (it->dest_kind == D_INT) {
            uint64_t u = read_uint(at, it->size, it->little);
            if (it->is_signed) {
                cx->regs[it->dest] = sign_extend(u, it->size);
            }
            else if (u > (uint64_t)INT64_MAX) {
                return RUN_ABORT;
            }
            else {
                cx->regs[it->dest] = (int64_t)u;
            }
            continue;
        }
        if (it->code == 's') {
            PyObject *v = PyBytes_FromStringAndSize((const char *)at, it->size);
            if (v == NULL) {
                return RUN_ERROR;
            }
            set_slot(cx->self, p->slot_offsets[it->dest], v);
            continue;
        }
        if (it->code == '?') {
            PyObject *v = at[0] ? Py_True : Py_False;
            Py_INCREF(v);
            set_slot(cx->self, p->slot_offsets[it->dest], v);
            continue;
        }
        uint64_t u = read_uint(at, it->size, s->e);
        int is_signed = it->code >= 'a';  /* b h i l q */
        if (it->dest_kind == D_REG) {
            if (!is_signed && u > (uint64_t)INT64_MAX) {
                return RUN_ABORT;
            }
            cx->regs[it->dest] = is_signed ? sign_extend(u, it->size) : (int64_t)u;
            continue;
        }
        PyObject *v = is_signed ? PyLong_FromLongLong(sign_extend(u, it->size))
                                : PyLong_FromUnsignedLongLong(u);
        if (v == NULL) {
            return RUN_ERROR;
        }
        set_slot(cx->self, p->slot_offsets[it->dest], v);
    }
    return RUN_OK;
}

/* table.heuristics or table.guarded (new reference): the slot itself for a DispatchTable */
static inline PyObject *
table_attr(PyObject *table, PyObject *name, Py_ssize_t offset)
{
    if (RT.table_type != NULL && Py_TYPE(table) == (PyTypeObject *)RT.table_type) {
        PyObject *v = SLOT(table, offset);
        if (v != NULL) {
            return Py_NewRef(v);
        }
    }
    return PyObject_GetAttr(table, name);
}

static PyObject *
global_value(Program *p, int index)
{
    PyObject *v = PyDict_GetItemWithError(p->globals, PyTuple_GET_ITEM(p->names, index));
    return v;  /* borrowed; NULL without an error: not there */
}

/* The dispatch idiom of the generated decoders (see fast_program.py), with the same calls
 * into Python for heuristics and guards. Returns the next class (new reference). */
static int
fp_dispatch(Ctx *cx, int table_index, const int64_t *keys, int nkeys, int64_t hend_value,
            int64_t pend_value, PyObject **nxt_out)
{
    Program *p = cx->p;
    PyObject *table = global_value(p, table_index);
    if (table == NULL) {
        return PyErr_Occurred() ? RUN_ERROR : RUN_ABORT;
    }
    if (!PyDict_CheckExact(table)
        && (RT.table_type == NULL || !Py_IS_TYPE(table, (PyTypeObject *)RT.table_type))) {
        return RUN_ABORT;  /* a dict subclass may have its own get(): Python's decoder */
    }
    Py_INCREF(table);
    PyObject *nxt = NULL, *key_objs[2] = {NULL, NULL};
    int result = RUN_ERROR;
    for (int i = 0; i < nkeys; i++) {
        if ((key_objs[i] = PyLong_FromLongLong(keys[i])) == NULL) {
            goto done;
        }
    }
    for (int i = 0; i < nkeys && nxt == NULL; i++) {
        nxt = PyDict_GetItemWithError(table, key_objs[i]);
        if (nxt == NULL && PyErr_Occurred()) {
            goto done;
        }
    }
    /* From here on Python code may run: no abort after this point. */
    PyObject *hend = NULL, *pend = NULL;
    if (nxt == NULL) {
        PyObject *heuristics = table_attr(table, s_heuristics, RT.d_heuristics);
        if (heuristics == NULL) {
            goto done;
        }
        int truth = PyObject_IsTrue(heuristics);
        Py_DECREF(heuristics);
        if (truth < 0) {
            goto done;
        }
        if (!truth) {
            Py_INCREF(Py_None);
            *nxt_out = Py_None;
            result = RUN_OK;
            goto done;
        }
        hend = PyLong_FromLongLong(hend_value);
        pend = PyLong_FromLongLong(pend_value);
        if (hend == NULL || pend == NULL) {
            goto done_bounds;
        }
        PyObject *args[] = {table, Py_None, cx->buf, hend, pend};
        *nxt_out = PyObject_VectorcallMethod(s_lookup, args,
                                             5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        result = *nxt_out == NULL ? RUN_ERROR : RUN_OK;
        goto done_bounds;
    }
    Py_INCREF(nxt);
    PyObject *guarded = table_attr(table, s_guarded, RT.d_guarded);
    if (guarded == NULL) {
        Py_DECREF(nxt);
        goto done;
    }
    int truth = PyObject_IsTrue(guarded);
    Py_DECREF(guarded);
    if (truth <= 0) {
        if (truth < 0) {
            Py_DECREF(nxt);
            goto done;
        }
        *nxt_out = nxt;
        result = RUN_OK;
        goto done;
    }
    PyObject *guard = PyObject_GetAttr(nxt, s_guard);
    if (guard == NULL) {
        Py_DECREF(nxt);
        goto done;
    }
    if (guard == Py_None) {
        Py_DECREF(guard);
        *nxt_out = nxt;
        result = RUN_OK;
        goto done;
    }
    Py_DECREF(guard);
    hend = PyLong_FromLongLong(hend_value);
    pend = PyLong_FromLongLong(pend_value);
    if (hend == NULL || pend == NULL) {
        Py_DECREF(nxt);
        goto done_bounds;
    }
    /* nxt._guard is read again, as the Python decoder does */
    guard = PyObject_GetAttr(nxt, s_guard);
    if (guard == NULL) {
        Py_DECREF(nxt);
        goto done_bounds;
    }
    PyObject *gargs[] = {NULL, cx->buf, hend, pend};
    PyObject *ok = PyObject_Vectorcall(guard, gargs + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                       NULL);
    Py_DECREF(guard);
    if (ok == NULL) {
        Py_DECREF(nxt);
        goto done_bounds;
    }
    truth = PyObject_IsTrue(ok);
    Py_DECREF(ok);
    if (truth < 0) {
        Py_DECREF(nxt);
        goto done_bounds;
    }
    if (truth) {
        *nxt_out = nxt;
        result = RUN_OK;
        goto done_bounds;
    }
    PyObject *key_tuple = PyTuple_New(nkeys);
    if (key_tuple == NULL) {
        Py_DECREF(nxt);
        goto done_bounds;
    }
    for (int i = 0; i < nkeys; i++) {
        Py_INCREF(key_objs[i]);
        PyTuple_SET_ITEM(key_tuple, i, key_objs[i]);
    }
    PyObject *rargs[] = {table, key_tuple, nxt, cx->buf, hend, pend};
    *nxt_out = PyObject_VectorcallMethod(s_refused, rargs,
                                         6 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(key_tuple);
    Py_DECREF(nxt);
    result = *nxt_out == NULL ? RUN_ERROR : RUN_OK;
done_bounds:
    Py_XDECREF(hend);
    Py_XDECREF(pend);
done:
    Py_XDECREF(key_objs[0]);
    Py_XDECREF(key_objs[1]);
    Py_DECREF(table);
    if (result == RUN_ERROR && !PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    return result;
}

static int
run_dispatch(Ctx *cx, const Stmt *s, PyObject **nxt_out)
{
    int64_t keys[2];
    for (int i = 0; i < s->c; i++) {
        int r = eval(cx, cx->p->lists[s->b + i], &keys[i]);
        if (r != RUN_OK) {
            return r;
        }
    }
    return fp_dispatch(cx, s->a, keys, s->c, cx->regs[s->d], cx->regs[s->e], nxt_out);
}

/* ---- helpers of the compiled built-in programs (native_program.py writes calls) ------ */

typedef struct {
    const char *key;
    int (*function)(Ctx *, PyObject **);
} NativeProgram;

static inline int fp_add(int64_t *o, int64_t a, int64_t b) { return __builtin_add_overflow(a, b, o); }
static inline int fp_sub(int64_t *o, int64_t a, int64_t b) { return __builtin_sub_overflow(a, b, o); }
static inline int fp_mul(int64_t *o, int64_t a, int64_t b) { return __builtin_mul_overflow(a, b, o); }

static inline int
fp_floordiv(int64_t *o, int64_t a, int64_t b)
{
    if (b == 0 || (a == INT64_MIN && b == -1)) {
        return 1;
    }
    int64_t q = a / b, m = a % b;
    *o = (m != 0 && ((m < 0) != (b < 0))) ? q - 1 : q;
    return 0;
}

static inline int
fp_mod(int64_t *o, int64_t a, int64_t b)
{
    if (b == 0 || (a == INT64_MIN && b == -1)) {
        return 1;
    }
    int64_t m = a % b;
    *o = (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
    return 0;
}

static inline int
fp_shl(int64_t *o, int64_t a, int64_t b)
{
    if (b < 0) {
        return 1;
    }
    if (a == 0) {
        *o = 0;
        return 0;
    }
    return b >= 62 || __builtin_mul_overflow(a, (int64_t)1 << b, o);
}

static inline int
fp_shr(int64_t *o, int64_t a, int64_t b)
{
    if (b < 0) {
        return 1;
    }
    *o = b >= 63 ? (a < 0 ? -1 : 0) : (a >> b);
    return 0;
}

static inline uint64_t fp_rd8(const unsigned char *at, int little) { (void)little; return at[0]; }
static inline uint64_t fp_rd16(const unsigned char *at, int little) { return read_uint(at, 2, little); }
static inline uint64_t fp_rd32(const unsigned char *at, int little) { return read_uint(at, 4, little); }
static inline uint64_t fp_rd64(const unsigned char *at, int little) { return read_uint(at, 8, little); }

static inline int
fp_to_reg(int64_t *reg, uint64_t u, int size, int is_signed)
{
    if (is_signed) {
        *reg = sign_extend(u, size);
        return 0;
    }
    if (u > (uint64_t)INT64_MAX) {
        return 1;
    }
    *reg = (int64_t)u;
    return 0;
}

static inline int
fp_from_bytes(int64_t *reg, const unsigned char *at, int size, int little, int is_signed)
{
    return fp_to_reg(reg, read_uint(at, size, little), size, is_signed);
}

static inline int
fp_set_int(Ctx *cx, int slot, int64_t v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL) {
        return 1;
    }
    set_slot(cx->self, cx->p->slot_offsets[slot], value);
    return 0;
}

static inline int
fp_set_read(Ctx *cx, int slot, uint64_t u, int size, int is_signed)
{
    PyObject *value = is_signed ? PyLong_FromLongLong(sign_extend(u, size))
                                : PyLong_FromUnsignedLongLong(u);
    if (value == NULL) {
        return 1;
    }
    set_slot(cx->self, cx->p->slot_offsets[slot], value);
    return 0;
}

static inline int
fp_set_bool(Ctx *cx, int slot, int64_t v)
{
    PyObject *value = v ? Py_True : Py_False;
    Py_INCREF(value);
    set_slot(cx->self, cx->p->slot_offsets[slot], value);
    return 0;
}

static inline void
fp_set_const(Ctx *cx, int slot, int ellipsis)
{
    PyObject *value = ellipsis ? Py_Ellipsis : Py_None;
    Py_INCREF(value);
    set_slot(cx->self, cx->p->slot_offsets[slot], value);
}

static inline void
fp_set_buf(Ctx *cx, int slot)
{
    Py_INCREF(cx->buf);
    set_slot(cx->self, cx->p->slot_offsets[slot], cx->buf);
}

static inline int
fp_set_bytes(Ctx *cx, int slot, const unsigned char *at, int size)
{
    PyObject *value = PyBytes_FromStringAndSize((const char *)at, size);
    if (value == NULL) {
        return 1;
    }
    set_slot(cx->self, cx->p->slot_offsets[slot], value);
    return 0;
}

static int
fp_set_tuple(Ctx *cx, int slot, const int64_t *values, int n)
{
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        return 1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *item = PyLong_FromLongLong(values[i]);
        if (item == NULL) {
            Py_DECREF(t);
            return 1;
        }
        PyTuple_SET_ITEM(t, i, item);
    }
    set_slot(cx->self, cx->p->slot_offsets[slot], t);
    return 0;
}

/* buf[lo:hi] (or bytes of it) into a slot: RUN_OK, RUN_ABORT or RUN_ERROR */
static int
fp_set_slice(Ctx *cx, int slot, int64_t lo, int64_t hi, int as_bytes)
{
    if (lo < 0 || hi < 0) {
        return RUN_ABORT;  /* counted from the end in Python: left to it */
    }
    PyObject *part = PySequence_GetSlice(cx->buf, (Py_ssize_t)lo, (Py_ssize_t)hi);
    if (part == NULL) {
        return RUN_ERROR;
    }
    if (as_bytes) {
        PyObject *copy = PyBytes_FromObject(part);
        Py_DECREF(part);
        if (copy == NULL) {
            return RUN_ERROR;
        }
        part = copy;
    }
    set_slot(cx->self, cx->p->slot_offsets[slot], part);
    return RUN_OK;
}

static inline int
fp_get_slot(Ctx *cx, int slot, int64_t *out)
{
    PyObject *v = SLOT(cx->self, cx->p->slot_offsets[slot]);
    if (v == NULL || !PyLong_Check(v)) {
        return 1;
    }
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 1;
    }
    *out = x;
    return 0;
}

static inline int
fp_ret_none(PyObject **nxt)
{
    Py_INCREF(Py_None);
    *nxt = Py_None;
    return RUN_OK;
}

static int
fp_ret_global(Ctx *cx, int index, PyObject **nxt)
{
    PyObject *cls = global_value(cx->p, index);
    if (cls == NULL) {
        return PyErr_Occurred() ? RUN_ERROR : RUN_ABORT;
    }
    Py_INCREF(cls);
    *nxt = cls;
    return RUN_OK;
}

#include "_native_programs.h"

/* The compiled function of the program whose key (a hash of its text) is key, if any. */
static void
bind_native(Program *p, const char *key)
{
    for (const NativeProgram *n = NATIVE_PROGRAMS; n->key != NULL; n++) {
        if (strcmp(n->key, key) == 0) {
            p->native = n->function;
            return;
        }
    }
}

/* Run program p on self (a fresh or preallocated instance of p->owner). RUN_OK: *nxt_out is
 * the next class or None (new reference); RUN_ABORT: decode this layer in Python instead;
 * RUN_ERROR: a Python exception is set (a guard or heuristic raised, or no memory). */
static int
run_program(Program *p, PyObject *self, PyObject *buf, const unsigned char *data,
            Py_ssize_t len, Py_ssize_t off, Py_ssize_t end, PyObject **nxt_out)
{
    Ctx cx;
    cx.p = p;
    cx.self = self;
    cx.buf = buf;
    cx.data = data;
    cx.len = len;
    cx.regs[0] = off;
    cx.regs[1] = end;
    /* the translator reads no register before writing it; zeroed anyway, for a program
     * that was written by hand */
    memset(cx.regs + 2, 0, sizeof(int64_t) * (size_t)(p->nregs - 2));
    if (p->native != NULL) {
        return p->native(&cx, nxt_out);
    }
    int pc = 0;
    int r;
    int64_t v;
    while (pc < p->nstmts) {
        const Stmt *s = &p->stmts[pc];
        switch (s->op) {
        case S_ABORT:
            return RUN_ABORT;
        case S_RET: {
            PyObject *cls = Py_None;
            if (s->a >= 0) {
                cls = global_value(p, s->a);
                if (cls == NULL) {
                    return PyErr_Occurred() ? RUN_ERROR : RUN_ABORT;
                }
            }
            Py_INCREF(cls);
            *nxt_out = cls;
            return RUN_OK;
        }
        case S_JF:
            if ((r = eval(&cx, s->a, &v)) != RUN_OK) {
                return r;
            }
            pc = v ? pc + 1 : s->b;
            continue;
        case S_ABORTIF:
            if ((r = eval(&cx, s->a, &v)) != RUN_OK) {
                return r;
            }
            if (v) {
                return RUN_ABORT;
            }
            break;
        case S_J:
            pc = s->a;
            continue;
        case S_REG:
            if ((r = eval(&cx, s->b, &v)) != RUN_OK) {
                return r;
            }
            cx.regs[s->a] = v;
            break;
        case S_SET: {
            if ((r = eval(&cx, s->b, &v)) != RUN_OK) {
                return r;
            }
            PyObject *value;
            if (s->c) {
                value = v ? Py_True : Py_False;
                Py_INCREF(value);
            }
            else if ((value = PyLong_FromLongLong(v)) == NULL) {
                return RUN_ERROR;
            }
            set_slot(self, p->slot_offsets[s->a], value);
            break;
        }
        case S_OBJ: {
            PyObject *value = s->b ? Py_Ellipsis : Py_None;
            Py_INCREF(value);
            set_slot(self, p->slot_offsets[s->a], value);
            break;
        }
        case S_BUF:
            Py_INCREF(buf);
            set_slot(self, p->slot_offsets[s->a], buf);
            break;
        case S_TUPLE: {
            PyObject *t = PyTuple_New(s->c);
            if (t == NULL) {
                return RUN_ERROR;
            }
            for (int i = 0; i < s->c; i++) {
                if ((r = eval(&cx, p->lists[s->b + i], &v)) != RUN_OK) {
                    Py_DECREF(t);
                    return r;
                }
                PyObject *item = PyLong_FromLongLong(v);
                if (item == NULL) {
                    Py_DECREF(t);
                    return RUN_ERROR;
                }
                PyTuple_SET_ITEM(t, i, item);
            }
            set_slot(self, p->slot_offsets[s->a], t);
            break;
        }
        case S_SLICE: {
            int64_t lo, hi;
            if ((r = eval(&cx, s->b, &lo)) != RUN_OK || (r = eval(&cx, s->c, &hi)) != RUN_OK) {
                return r;
            }
            if (lo < 0 || hi < 0) {
                return RUN_ABORT;  /* counted from the end in Python: left to it */
            }
            PyObject *part = PySequence_GetSlice(buf, (Py_ssize_t)lo, (Py_ssize_t)hi);
            if (part == NULL) {
                return RUN_ERROR;
            }
            if (s->d) {
                PyObject *copy = PyBytes_FromObject(part);
                Py_DECREF(part);
                if (copy == NULL) {
                    return RUN_ERROR;
                }
                part = copy;
            }
            set_slot(self, p->slot_offsets[s->a], part);
            break;
        }
        case S_UNPACK:
            if ((r = run_unpack(&cx, s)) != RUN_OK) {
                return r;
            }
            break;
        case S_DISPATCH:
            return run_dispatch(&cx, s, nxt_out);
        }
        pc++;
    }
    Py_INCREF(Py_None);
    *nxt_out = Py_None;
    return RUN_OK;
}

/* ---- buffers ------------------------------------------------------------------------ */

enum { B_BYTES, B_BYTEARRAY, B_VIEW };

/* A packet's buffer as the programs read it. No export is held: Python code may run between
 * layers (a guard, a heuristic, a Python decoder) and must be free to resize a bytearray or
 * release a view, as it is in the Python loop; the pointer is read again before each
 * program, which runs no Python code before its final dispatch. */
typedef struct {
    PyObject *obj;
    int kind;
    const unsigned char *data;
    Py_ssize_t len;
} Bytes;

/* Where obj's bytes are now: 1, or 0 when it can no longer be read (a released view). */
static int
refresh_bytes(Bytes *b)
{
    if (b->kind == B_BYTEARRAY) {
        b->data = (const unsigned char *)PyByteArray_AS_STRING(b->obj);
        b->len = PyByteArray_GET_SIZE(b->obj);
    }
    else if (b->kind == B_VIEW) {
        if (((PyMemoryViewObject *)b->obj)->flags & _Py_MEMORYVIEW_RELEASED) {
            return 0;
        }
        b->data = PyMemoryView_GET_BUFFER(b->obj)->buf;
        b->len = PyMemoryView_GET_BUFFER(b->obj)->len;
    }
    return 1;
}

/* Whether buf is bytes, a bytearray or a flat byte memoryview (what Python's decoders index
 * the same way), filling b; 0 for anything else (the Python loop takes it). */
static int
get_bytes(PyObject *buf, Bytes *b)
{
    b->obj = buf;
    if (PyBytes_CheckExact(buf)) {
        b->kind = B_BYTES;
        b->data = (const unsigned char *)PyBytes_AS_STRING(buf);
        b->len = PyBytes_GET_SIZE(buf);
        return 1;
    }
    if (PyByteArray_CheckExact(buf)) {
        b->kind = B_BYTEARRAY;
        return refresh_bytes(b);
    }
    if (PyMemoryView_Check(buf)) {
        if (((PyMemoryViewObject *)buf)->flags & _Py_MEMORYVIEW_RELEASED) {
            return 0;  /* checked first: a released view's fields may point at freed memory */
        }
        Py_buffer *v = PyMemoryView_GET_BUFFER(buf);
        if (v->ndim != 1 || v->itemsize != 1 || (v->format != NULL && strcmp(v->format, "B"))
            || !PyBuffer_IsContiguous(v, 'C')) {
            return 0;
        }
        b->kind = B_VIEW;
        return refresh_bytes(b);
    }
    return 0;
}

/* ---- one layer ---------------------------------------------------------------------- */

static inline Program *
program_of(PyObject *cls)
{
    PyObject *p = _PyType_Lookup((PyTypeObject *)cls, s_fast);
    if (p != NULL && Py_IS_TYPE(p, &ProgramType) && ((Program *)p)->owner == cls
        && _PyType_Lookup((PyTypeObject *)cls, s_decode) == ((Program *)p)->decode) {
        return (Program *)p;
    }
    return NULL;
}

static PyObject *
call_decode(PyObject *layer, PyObject *buf, Py_ssize_t off, Py_ssize_t end)
{
    PyObject *o = PyLong_FromSsize_t(off), *e = PyLong_FromSsize_t(end);
    PyObject *nxt = NULL;
    if (o != NULL && e != NULL) {
        PyObject *args[] = {layer, buf, o, e};
        nxt = PyObject_VectorcallMethod(s_decode, args, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                        NULL);
    }
    Py_XDECREF(o);
    Py_XDECREF(e);
    return nxt;
}

static PyObject *object_new;  /* object.__new__, for classes the fast allocation is not for */

/* A fresh, empty instance of cls, as the Python loop's object.__new__(cls) makes it: made
 * directly for layer classes, by object.__new__ itself for anything else (its checks and
 * messages: a non-type, a built-in type). */
static PyObject *
new_layer(PyObject *cls)
{
    if (PyType_Check(cls) && RT.layer_type != NULL
        && PyType_IsSubtype((PyTypeObject *)cls, (PyTypeObject *)RT.layer_type)
        && ((PyTypeObject *)cls)->tp_new == PyBaseObject_Type.tp_new) {
        return PyBaseObject_Type.tp_new((PyTypeObject *)cls, empty_tuple, NULL);
    }
    return PyObject_CallOneArg(object_new, cls);
}

/* Decode one layer into *layer (made here when fresh, else preallocated): the program when
 * cls has one and *layer is exactly a cls, its Python _decode otherwise or after an abort.
 * Returns the next class (new reference) or NULL with the decoder's exception set. */
static PyObject *
decode_one(PyObject *cls, PyObject **layer, int fresh, PyObject *buf, Bytes *b,
           Py_ssize_t off, Py_ssize_t end)
{
    Program *p = program_of(cls);
    if (p != NULL && Py_IS_TYPE(*layer, (PyTypeObject *)cls) && refresh_bytes(b)) {
        PyObject *nxt = NULL;
        Py_INCREF(p);  /* held while it runs: a guard may rebind cls._fast */
        int r = run_program(p, *layer, buf, b->data, b->len, off, end, &nxt);
        Py_DECREF(p);
        if (r == RUN_OK) {
            return nxt;
        }
        if (r == RUN_ERROR) {
            return NULL;
        }
        if (fresh) {  /* an abort leaves a half-filled object: Python starts on a new one */
            PyObject *again = new_layer(cls);
            if (again == NULL) {
                return NULL;
            }
            Py_SETREF(*layer, again);
        }
    }
    return call_decode(*layer, buf, off, end);
}

/* layer._hend and layer._pend, as Python's loop reads them (outside its try). */
static int
layer_bounds(PyObject *layer, Py_ssize_t *off, Py_ssize_t *end)
{
    PyObject *h, *e;
    if (PyObject_TypeCheck(layer, (PyTypeObject *)RT.layer_type)) {
        h = SLOT(layer, RT.l_hend);
        e = SLOT(layer, RT.l_pend);
        Py_XINCREF(h);
        Py_XINCREF(e);
        if (h == NULL || e == NULL) {
            Py_XDECREF(h);
            Py_XDECREF(e);
            PyErr_SetString(PyExc_AttributeError, "layer has no bounds (_hend, _pend)");
            return -1;
        }
    }
    else {
        h = PyObject_GetAttrString(layer, "_hend");
        e = h ? PyObject_GetAttrString(layer, "_pend") : NULL;
        if (e == NULL) {
            Py_XDECREF(h);
            return -1;
        }
    }
    *off = PyLong_AsSsize_t(h);
    *end = PyLong_AsSsize_t(e);
    Py_DECREF(h);
    Py_DECREF(e);
    return PyErr_Occurred() ? -1 : 0;
}

/* The pending exception, normalized with its traceback, if it is an Exception; else NULL
 * with it still set (KeyboardInterrupt and the like go on up, as in Python's loop). */
static PyObject *
catch_exception(void)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return NULL;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* ---- decode_eager ------------------------------------------------------------------- */

static int
check_configured(void)
{
    if (!RT.configured) {
        PyErr_SetString(PyExc_RuntimeError, "pktspec.runtime._fastpath is not configured");
        return -1;
    }
    return 0;
}

static int
fail_with(PyObject *packet, PyObject *exc, PyObject *cls, Py_ssize_t off, Py_ssize_t end)
{
    PyObject *o = PyLong_FromSsize_t(off), *e = PyLong_FromSsize_t(end);
    PyObject *r = NULL;
    if (o != NULL && e != NULL) {
        r = PyObject_CallMethodObjArgs(packet, s_fail, exc, cls, o, e, NULL);
    }
    Py_XDECREF(o);
    Py_XDECREF(e);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* packet._fail(exc, cls, off, end) for the exception being handled: 0, or -1 when _fail
 * raises (strict) or the exception is not an Exception (it goes on up). */
static int
packet_fail_at(PyObject *packet, PyObject *cls, Py_ssize_t off, Py_ssize_t end)
{
    PyObject *exc = catch_exception();
    if (exc == NULL) {
        return -1;
    }
    int r = fail_with(packet, exc, cls, off, end);
    if (r < 0 && PyErr_Occurred()) {
        /* strict: _fail raised while, in Python, exc was being handled, which makes exc the
         * new error's __context__ (unless it is exc itself) */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL && value != exc && PyExceptionInstance_Check(value)) {
            PyException_SetContext(value, Py_NewRef(exc));
        }
        PyErr_Restore(type, value, tb);
    }
    Py_DECREF(exc);
    return r;
}

static PyObject *
eager(PyObject *buf, PyObject *first, PyObject *metadata, PyObject *strict, Bytes *b)
{
    PyObject *packet = PyBaseObject_Type.tp_new((PyTypeObject *)RT.packet_type, empty_tuple,
                                                NULL);
    if (packet == NULL) {
        return NULL;
    }
    Py_INCREF(buf);
    set_slot(packet, RT.p_data, buf);
    Py_INCREF(metadata);
    set_slot(packet, RT.p_metadata, metadata);
    Py_INCREF(strict);
    set_slot(packet, RT.p_strict, strict);
    Py_ssize_t nones[] = {RT.p_error, RT.p_tail, RT.p_net, RT.p_trans, RT.p_pending};
    for (int i = 0; i < 5; i++) {
        Py_INCREF(Py_None);
        set_slot(packet, nones[i], Py_None);
    }
    PyObject *layers = PyList_New(0);
    if (layers == NULL) {
        Py_DECREF(packet);
        return NULL;
    }
    set_slot(packet, RT.p_layers, layers);  /* the packet owns the list; layers is borrowed */

    PyObject *cls = first;
    Py_INCREF(cls);
    Py_ssize_t off = 0, end = b->len, count = 0;
    PyObject *layer_objs[3] = {NULL, NULL, NULL};
    while (1) {
        PyObject *layer = new_layer(cls);  /* outside the layer's try, as in Python */
        if (layer == NULL) {
            goto error;
        }
        PyObject *nxt = decode_one(cls, &layer, 1, buf, b, off, end);
        if (nxt == NULL) {
            Py_DECREF(layer);
            if (packet_fail_at(packet, cls, off, end) < 0) {
                goto error;
            }
            goto done;
        }
        if (PyList_Append(layers, layer) < 0) {
            Py_DECREF(layer);
            Py_DECREF(nxt);
            goto error;
        }
        count++;
        if (count <= 3) {
            layer_objs[count - 1] = layer;  /* borrowed: the list holds it */
        }
        int bounds = layer_bounds(layer, &off, &end);
        Py_DECREF(layer);
        if (bounds < 0) {
            Py_DECREF(nxt);
            goto error;
        }
        if (count == 3) {
            /* link, network, transport: the usual chain, noted for packet.network/transport */
            PyObject *k1 = _PyType_Lookup(Py_TYPE(layer_objs[0]), s_layer_class);
            PyObject *k2 = _PyType_Lookup(Py_TYPE(layer_objs[1]), s_layer_class);
            if (k1 == RT.link && k2 == RT.network) {
                Py_INCREF(layer_objs[1]);
                set_slot(packet, RT.p_net, layer_objs[1]);
                PyObject *k3 = _PyType_Lookup(Py_TYPE(layer_objs[2]), s_layer_class);
                if (k3 == RT.transport) {
                    Py_INCREF(layer_objs[2]);
                    set_slot(packet, RT.p_trans, layer_objs[2]);
                }
            }
        }
        if (nxt == Py_None) {
            Py_DECREF(nxt);
            break;
        }
        if (count >= RT.max_layers) {
            PyObject *o = PyLong_FromSsize_t(off);
            PyObject *exc = o ? PyObject_CallFunctionObjArgs(RT.too_deep, nxt, o, NULL) : NULL;
            Py_XDECREF(o);
            int r = exc ? fail_with(packet, exc, nxt, off, end) : -1;
            Py_XDECREF(exc);
            Py_DECREF(nxt);
            if (r < 0) {
                goto error;
            }
            goto done;
        }
        Py_SETREF(cls, nxt);
    }
    if (end > off) {
        PyObject *payload = PyObject_GetAttr(RT.registry, s_payload);
        if (payload == NULL) {
            goto error;
        }
        if (payload != Py_None && payload != cls) {
            PyObject *tail = Py_BuildValue("(Onn)", payload, off, end);
            if (tail == NULL) {
                Py_DECREF(payload);
                goto error;
            }
            set_slot(packet, RT.p_tail, tail);
        }
        Py_DECREF(payload);
    }
done:
    Py_DECREF(cls);
    return packet;
error:
    Py_DECREF(cls);
    Py_DECREF(packet);
    return NULL;
}

/* decode_eager(buf, first, metadata=None, strict=False): packet.py's decode_eager. */
static PyObject *
fp_decode_eager(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (check_configured() < 0) {
        return NULL;
    }
    Bytes b;
    if (kwnames != NULL || nargs < 2 || nargs > 4 || !get_bytes(args[0], &b)) {
        return PyObject_Vectorcall(RT.python_decode_eager, args, nargsf, kwnames);
    }
    PyObject *metadata = nargs > 2 ? args[2] : Py_None;
    PyObject *strict = nargs > 3 ? args[3] : Py_False;
    PyObject *packet = eager(args[0], args[1], metadata, strict, &b);
    return packet;
}

/* ---- the Parser's decoder ----------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *first, *instances, *head, *payload, *payload_layer, *decoded, *state,
        *fallback;
    Py_ssize_t o_unsupported, o_error;
    vectorcallfunc vectorcall;
} ChainDecoder;

static int
ChainDecoder_traverse(ChainDecoder *d, visitproc visit, void *arg)
{
    Py_VISIT(d->first);
    Py_VISIT(d->instances);
    Py_VISIT(d->head);
    Py_VISIT(d->payload);
    Py_VISIT(d->payload_layer);
    Py_VISIT(d->decoded);
    Py_VISIT(d->state);
    Py_VISIT(d->fallback);
    return 0;
}

static int
ChainDecoder_clear(ChainDecoder *d)
{
    Py_CLEAR(d->first);
    Py_CLEAR(d->instances);
    Py_CLEAR(d->head);
    Py_CLEAR(d->payload);
    Py_CLEAR(d->payload_layer);
    Py_CLEAR(d->decoded);
    Py_CLEAR(d->state);
    Py_CLEAR(d->fallback);
    return 0;
}

static void
ChainDecoder_dealloc(ChainDecoder *d)
{
    PyObject_GC_UnTrack(d);
    ChainDecoder_clear(d);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static void
set_outcome(ChainDecoder *d, Py_ssize_t slot, PyObject *value)
{
    Py_INCREF(value);
    set_slot(d->state, slot, value);
}

/* state.error = _as_decode_error(exc, cls, off) for the exception being handled; -1 when
 * that fails or the exception is not an Exception. */
static int
outcome_error(ChainDecoder *d, PyObject *cls, Py_ssize_t off)
{
    PyObject *exc = catch_exception();
    if (exc == NULL) {
        return -1;
    }
    PyObject *o = PyLong_FromSsize_t(off);
    PyObject *error = o ? PyObject_CallFunctionObjArgs(RT.as_decode_error, exc, cls, o, NULL)
                        : NULL;
    Py_XDECREF(o);
    Py_DECREF(exc);
    if (error == NULL) {
        return -1;
    }
    set_slot(d->state, d->o_error, error);
    return 0;
}

static PyObject *
chain_decode(ChainDecoder *d, PyObject *data, Bytes *b)
{
    PyObject *decoded = d->decoded;
    if (PyList_SetSlice(decoded, 0, PyList_GET_SIZE(decoded), NULL) < 0) {
        return NULL;
    }
    set_outcome(d, d->o_unsupported, Py_None);
    set_outcome(d, d->o_error, Py_None);
    PyObject *cls = d->first;
    PyObject *layer = d->head;
    Py_ssize_t off = 0, end = b->len, count = 0;
    if (layer == Py_None) {
        set_outcome(d, d->o_unsupported, cls);
        goto out;
    }
    Py_INCREF(cls);
    while (1) {
        Py_INCREF(layer);  /* borrowed from instances, which Python code may change */
        PyObject *nxt = decode_one(cls, &layer, 0, data, b, off, end);
        if (nxt == NULL) {
            Py_DECREF(layer);
            int r = outcome_error(d, cls, off);
            Py_DECREF(cls);
            return r < 0 ? NULL : (Py_INCREF(decoded), decoded);
        }
        int failed = PyList_Append(decoded, cls) < 0 || layer_bounds(layer, &off, &end) < 0;
        Py_DECREF(layer);
        if (failed) {
            Py_DECREF(nxt);
            Py_DECREF(cls);
            return NULL;
        }
        count++;
        if (nxt == Py_None) {
            Py_DECREF(nxt);
            break;
        }
        if (count >= RT.max_layers) {
            PyObject *o = PyLong_FromSsize_t(off);
            PyObject *error = o ? PyObject_CallFunctionObjArgs(RT.too_deep, nxt, o, NULL)
                                : NULL;
            Py_XDECREF(o);
            Py_DECREF(nxt);
            Py_DECREF(cls);
            if (error == NULL) {
                return NULL;
            }
            set_slot(d->state, d->o_error, error);
            goto out;
        }
        Py_SETREF(cls, nxt);
        layer = PyDict_GetItemWithError(d->instances, cls);  /* borrowed */
        if (layer == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(cls);
                return NULL;
            }
            set_outcome(d, d->o_unsupported, cls);
            Py_DECREF(cls);
            goto out;
        }
    }
    if (end > off && d->payload != Py_None && d->payload != cls) {
        PyObject *payload_layer = d->payload_layer;
        Py_INCREF(payload_layer);
        PyObject *nxt = decode_one(d->payload, &payload_layer, 0, data, b, off, end);
        Py_DECREF(payload_layer);
        if (nxt == NULL) {
            int r = outcome_error(d, d->payload, off);
            Py_DECREF(cls);
            return r < 0 ? NULL : (Py_INCREF(decoded), decoded);
        }
        Py_DECREF(nxt);
        if (PyList_Append(decoded, d->payload) < 0) {
            Py_DECREF(cls);
            return NULL;
        }
    }
    Py_DECREF(cls);
out:
    Py_INCREF(decoded);
    return decoded;
}

static PyObject *
ChainDecoder_vectorcall(ChainDecoder *d, PyObject *const *args, size_t nargsf,
                        PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Bytes b;
    if (d->fallback == NULL || d->state == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the parser's decoder was cleared");
        return NULL;
    }
    if (kwnames != NULL || nargs != 1 || !RT.configured || !get_bytes(args[0], &b)) {
        return PyObject_Vectorcall(d->fallback, args, nargsf, kwnames);
    }
    PyObject *r = chain_decode(d, args[0], &b);
    return r;
}

/* ChainDecoder(first, instances, payload, decoded, state, fallback) */
static PyObject *
ChainDecoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *first, *instances, *payload, *decoded, *state, *fallback;
    if (!PyArg_ParseTuple(args, "OO!OO!OO:ChainDecoder", &first, &PyDict_Type, &instances,
                          &payload, &PyList_Type, &decoded, &state, &fallback)) {
        return NULL;
    }
    Py_ssize_t o_unsupported = member_offset_str((PyObject *)Py_TYPE(state), "unsupported");
    Py_ssize_t o_error = o_unsupported < 0 ? -1
                       : member_offset_str((PyObject *)Py_TYPE(state), "error");
    if (o_error < 0) {
        return NULL;
    }
    ChainDecoder *d = (ChainDecoder *)type->tp_alloc(type, 0);
    if (d == NULL) {
        return NULL;
    }
    PyObject *head = PyDict_GetItemWithError(instances, first);
    PyObject *payload_layer = NULL;
    if (head == NULL && PyErr_Occurred()) {
        Py_DECREF(d);
        return NULL;
    }
    if (payload != Py_None
        && (payload_layer = PyDict_GetItemWithError(instances, payload)) == NULL
        && PyErr_Occurred()) {
        Py_DECREF(d);
        return NULL;
    }
    if (payload != Py_None && payload_layer == NULL) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_ValueError, "the payload class has no instance");
        return NULL;
    }
    d->first = Py_NewRef(first);
    d->instances = Py_NewRef(instances);
    d->head = Py_NewRef(head ? head : Py_None);
    d->payload = Py_NewRef(payload);
    d->payload_layer = Py_NewRef(payload_layer ? payload_layer : Py_None);
    d->decoded = Py_NewRef(decoded);
    d->state = Py_NewRef(state);
    d->fallback = Py_NewRef(fallback);
    d->o_unsupported = o_unsupported;
    d->o_error = o_error;
    d->vectorcall = (vectorcallfunc)ChainDecoder_vectorcall;
    return (PyObject *)d;
}

static PyObject *
ChainDecoder_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    return PyVectorcall_Call(self, args, kwds);
}

static PyMemberDef ChainDecoder_members[] = {
    {"fallback", T_OBJECT, offsetof(ChainDecoder, fallback), READONLY,
     "the Python decoder over the same state (parser.py's closure)"},
    {NULL}
};

static PyTypeObject ChainDecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pktspec.runtime._fastpath.ChainDecoder",
    .tp_basicsize = sizeof(ChainDecoder),
    .tp_dealloc = (destructor)ChainDecoder_dealloc,
    .tp_vectorcall_offset = offsetof(ChainDecoder, vectorcall),
    .tp_call = ChainDecoder_call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)ChainDecoder_traverse,
    .tp_clear = (inquiry)ChainDecoder_clear,
    .tp_doc = "A Parser's decode_layers in C (parser.py's _decoder is its specification).",
    .tp_new = ChainDecoder_new,
    .tp_members = ChainDecoder_members,
};


/* ---- the TCP assembler's in-order path ---------------------------------------------- */

/* InOrderPath(assembler, sides, move_to_end, classes) is reassembly/tcp.py's in-order path
 * of _assemble_yielding (the segment that continues a calm side exactly where it left off),
 * run in C; calling it with a packet takes the packet and returns True, or returns False
 * having changed nothing (not the usual TCP packet, not in order, or a value it does not
 * handle), and Python's own loop then takes the packet as before. tcp.py's loop is its
 * specification, statement for statement. `taken` counts the packets it took. */

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

static PyObject *s_recent, *s_quotes, *s_reassembled;
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
     "packets taken (tcp.py adds them to stats.packets)"},
    {NULL}
};

static PyTypeObject InOrderPathType = {
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

/* ---- configuration and the module --------------------------------------------------- */

static PyObject *
fp_configure(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"packet_type", "layer_type", "link", "network", "transport",
                             "registry", "python_decode_eager", "too_deep",
                             "as_decode_error", "max_layers", "table_type", NULL};
    Runtime rt;
    memset(&rt, 0, sizeof rt);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!OOOOOOOnO!:configure", kwlist,
                                     &PyType_Type, &rt.packet_type, &PyType_Type,
                                     &rt.layer_type, &rt.link, &rt.network, &rt.transport,
                                     &rt.registry, &rt.python_decode_eager, &rt.too_deep,
                                     &rt.as_decode_error, &rt.max_layers, &PyType_Type,
                                     &rt.table_type)) {
        return NULL;
    }
    if (rt.max_layers < 1) {
        PyErr_SetString(PyExc_ValueError, "max_layers must be positive");
        return NULL;
    }
    struct { Py_ssize_t *at; PyObject *type; const char *name; } slots[] = {
        {&rt.p_data, rt.packet_type, "data"}, {&rt.p_metadata, rt.packet_type, "metadata"},
        {&rt.p_strict, rt.packet_type, "_strict"}, {&rt.p_error, rt.packet_type, "_error"},
        {&rt.p_tail, rt.packet_type, "_tail"}, {&rt.p_net, rt.packet_type, "_net"},
        {&rt.p_trans, rt.packet_type, "_trans"}, {&rt.p_pending, rt.packet_type, "_pending"},
        {&rt.p_layers, rt.packet_type, "_layers"}, {&rt.l_hend, rt.layer_type, "_hend"},
        {&rt.l_pend, rt.layer_type, "_pend"},
        {&rt.d_heuristics, rt.table_type, "heuristics"},
        {&rt.d_guarded, rt.table_type, "guarded"},
    };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if ((*slots[i].at = member_offset_str(slots[i].type, slots[i].name)) < 0) {
            return NULL;
        }
    }
    PyObject *objects[] = {rt.packet_type, rt.layer_type, rt.link, rt.network, rt.transport,
                           rt.registry, rt.python_decode_eager, rt.too_deep,
                           rt.as_decode_error, rt.table_type};
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        Py_INCREF(objects[i]);
    }
    Runtime old = RT;
    rt.configured = 1;
    RT = rt;
    if (old.configured) {
        PyObject *olds[] = {old.packet_type, old.layer_type, old.link, old.network,
                            old.transport, old.registry, old.python_decode_eager,
                            old.too_deep, old.as_decode_error, old.table_type};
        for (size_t i = 0; i < sizeof olds / sizeof olds[0]; i++) {
            Py_DECREF(olds[i]);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
fp_run(PyObject *module, PyObject *args)
{
    /* run(program, layer, buf, off, end) -> next class, or the module's ABORT: one
     * program on its own, for the tests that compare it with the Python decoder */
    PyObject *program, *layer, *buf;
    Py_ssize_t off, end;
    if (!PyArg_ParseTuple(args, "O!OOnn:run", &ProgramType, &program, &layer, &buf, &off,
                          &end)) {
        return NULL;
    }
    if (!PyObject_TypeCheck(layer, (PyTypeObject *)((Program *)program)->owner)) {
        PyErr_SetString(PyExc_TypeError, "layer is not an instance of the program's class");
        return NULL;
    }
    Bytes b;
    if (!get_bytes(buf, &b)) {
        PyErr_SetString(PyExc_TypeError, "buf must be bytes, a bytearray or a byte view");
        return NULL;
    }
    PyObject *nxt = NULL;
    int r = run_program((Program *)program, layer, buf, b.data, b.len, off, end, &nxt);
    if (r == RUN_ERROR) {
        return NULL;
    }
    if (r == RUN_ABORT) {
        return PyObject_GetAttrString(module, "ABORT");
    }
    return nxt;
}

/* decode_layer(cls, buf, off, end) -> (layer, next class): one layer on a fresh object, by
 * its program when it has one (the lazy packet's step, packet.py's _decode_until). */
static PyObject *
fp_decode_layer(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "decode_layer(cls, buf, off, end)");
        return NULL;
    }
    Py_ssize_t off = PyLong_AsSsize_t(args[2]);
    Py_ssize_t end = off == -1 && PyErr_Occurred() ? -1 : PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *cls = args[0], *buf = args[1];
    PyObject *layer = new_layer(cls);
    if (layer == NULL) {
        return NULL;
    }
    Bytes b;
    PyObject *nxt;
    if (get_bytes(buf, &b)) {
        nxt = decode_one(cls, &layer, 1, buf, &b, off, end);
        }
    else {
        nxt = call_decode(layer, buf, off, end);
    }
    if (nxt == NULL) {
        Py_DECREF(layer);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, layer, nxt);
    Py_DECREF(layer);
    Py_DECREF(nxt);
    return pair;
}

static PyMethodDef fp_methods[] = {

    {"decode_layer", (PyCFunction)(void (*)(void))fp_decode_layer, METH_FASTCALL,
     "One layer on a fresh object: (layer, next class)."},
    {"decode_eager", (PyCFunction)(void (*)(void))fp_decode_eager,
     METH_FASTCALL | METH_KEYWORDS, "packet.py's decode_eager, compiled."},
    {"configure", (PyCFunction)(void (*)(void))fp_configure, METH_VARARGS | METH_KEYWORDS,
     "Tell the module the runtime's classes and functions (fastpath.py does this once)."},
    {"run", fp_run, METH_VARARGS, "Run one program on one layer (for tests)."},
    {NULL}
};

static struct PyModuleDef fp_module = {
    PyModuleDef_HEAD_INIT, "_fastpath",
    "The optional compiled decode loop of pktspec (see pktspec/runtime/fastpath.py).", -1,
    fp_methods,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    struct { PyObject **at; const char *text; } names[] = {
        {&s_decode, "_decode"}, {&s_heuristics, "heuristics"}, {&s_guarded, "guarded"},
        {&s_lookup, "lookup"}, {&s_refused, "refused"}, {&s_guard, "_guard"},
        {&s_fail, "_fail"}, {&s_fast, "_fast"}, {&s_layer_class, "layer_class"},
        {&s_payload, "payload"}, {&s_name, "name"}, {&s_recent, "_recent"},
        {&s_quotes, "QUOTES"}, {&s_reassembled, "reassembled"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*names[i].at = PyUnicode_InternFromString(names[i].text)) == NULL) {
            return NULL;
        }
    }
    object_new = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__new__");
    if (object_new == NULL || (empty_tuple = PyTuple_New(0)) == NULL
        || (long_zero = PyLong_FromLong(0)) == NULL || PyType_Ready(&ProgramType) < 0
        || PyType_Ready(&ChainDecoderType) < 0 || PyType_Ready(&InOrderPathType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&fp_module);
    if (m == NULL) {
        return NULL;
    }
    PyObject *abort = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (abort == NULL || PyModule_AddObject(m, "ABORT", abort) < 0
        || PyModule_AddIntConstant(m, "FORMAT_VERSION", FORMAT_VERSION) < 0) {
        Py_XDECREF(abort);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ProgramType);
    Py_INCREF(&ChainDecoderType);
    Py_INCREF(&InOrderPathType);
    if (PyModule_AddObject(m, "InOrderPath", (PyObject *)&InOrderPathType) < 0
        || PyModule_AddObject(m, "Program", (PyObject *)&ProgramType) < 0
        || PyModule_AddObject(m, "ChainDecoder", (PyObject *)&ChainDecoderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
