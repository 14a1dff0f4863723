/* A generated _PROGRAM tuple, checked and compiled into a Program (see fastpath.h). */
#include "fastpath.h"

static const char *const EXPR_NAMES[] = {
    "c", "r", "s", "b", "+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">",
    ">=", "==", "!=", "not", "neg", "inv", "and", "or", "if", NULL
};

static const char *const STMT_NAMES[] = {
    "abort", "ret", "jf", "j", "reg", "set", "obj", "buf", "tuple", "slice", "unpack",
    "dispatch", "abortif", NULL
};

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
    for (int pc = 0; pc < p->nstmts; pc++) {
        const Stmt *st = &p->stmts[pc];
        if (st->op == S_SET || st->op == S_OBJ || st->op == S_BUF || st->op == S_TUPLE
            || st->op == S_SLICE) {
            p->max_stores++;
        }
        else if (st->op == S_UNPACK) {
            for (int i = 0; i < st->d; i++) {
                p->max_stores += p->items[st->c + i].dest_kind != D_INT
                                 && p->items[st->c + i].dest_kind != D_REG;
            }
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
    {"decode", T_OBJECT, offsetof(Program, decode), READONLY,
     "the _decode it restates (used only while the class's _decode is this one)"},
    {NULL}
};

PyTypeObject ProgramType = {
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

