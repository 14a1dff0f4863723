/* Running a program: the interpreter, and the compiled built-in programs with the helpers
 * their C calls (see fastpath.h). */
#include "fastpath.h"

/* Let go of the buffer export a program holds (before Python code runs, or at its end). */
static inline void
ctx_release(Ctx *cx)
{
    if (cx->held) {
        cx->held = 0;
        PyBuffer_Release(&cx->view);
    }
}

/* Store value (a new reference, stolen) in the layer's slot at off; the old value is kept
 * until the program ends, so that no finalizer runs while it reads (a reused Parser layer's
 * old values could otherwise change the bytes, or the layer, under it). */
static inline void
ctx_store(Ctx *cx, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(cx->self, off);
    SLOT(cx->self, off) = value;
    if (old != NULL) {
        cx->dead[cx->ndead++] = old;  /* at most p->max_stores */
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

static PyObject *
global_value(Program *p, int index)
{
    PyObject *v = PyDict_GetItemWithError(p->globals, PyTuple_GET_ITEM(p->names, index));
    return v;  /* borrowed; NULL without an error: not there */
}

/* ---- the operations: what a program's statements do, for the interpreter below and for
 * the compiled built-in programs, whose C (native_program.py) calls these by name ----- */


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
    ctx_store(cx, cx->p->slot_offsets[slot], value);
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
    ctx_store(cx, cx->p->slot_offsets[slot], value);
    return 0;
}

static inline int
fp_set_bool(Ctx *cx, int slot, int64_t v)
{
    PyObject *value = v ? Py_True : Py_False;
    Py_INCREF(value);
    ctx_store(cx, cx->p->slot_offsets[slot], value);
    return 0;
}

static inline void
fp_set_const(Ctx *cx, int slot, int ellipsis)
{
    PyObject *value = ellipsis ? Py_Ellipsis : Py_None;
    Py_INCREF(value);
    ctx_store(cx, cx->p->slot_offsets[slot], value);
}

static inline void
fp_set_buf(Ctx *cx, int slot)
{
    Py_INCREF(cx->buf);
    ctx_store(cx, cx->p->slot_offsets[slot], cx->buf);
}

static inline int
fp_set_bytes(Ctx *cx, int slot, const unsigned char *at, int size)
{
    PyObject *value = PyBytes_FromStringAndSize((const char *)at, size);
    if (value == NULL) {
        return 1;
    }
    ctx_store(cx, cx->p->slot_offsets[slot], value);
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
    ctx_store(cx, cx->p->slot_offsets[slot], t);
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
    ctx_store(cx, cx->p->slot_offsets[slot], part);
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
    ctx_release(cx);  /* the program reads no more bytes */
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

/* ---- the interpreter ---------------------------------------------------------------- */



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
    case E_SLOT:
        return fp_get_slot(cx, node->a, out) ? RUN_ABORT : RUN_OK;
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
        return fp_add(out, a, b) ? RUN_ABORT : RUN_OK;
    case E_SUB:
        return fp_sub(out, a, b) ? RUN_ABORT : RUN_OK;
    case E_MUL:
        return fp_mul(out, a, b) ? RUN_ABORT : RUN_OK;
    case E_FLOORDIV:
        return fp_floordiv(out, a, b) ? RUN_ABORT : RUN_OK;
    case E_MOD:
        return fp_mod(out, a, b) ? RUN_ABORT : RUN_OK;
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
        return fp_shl(out, a, b) ? RUN_ABORT : RUN_OK;
    case E_SHR:
        return fp_shr(out, a, b) ? RUN_ABORT : RUN_OK;
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
        int is_signed = it->code >= 'a';  /* b h i l q */
        if (it->dest_kind == D_INT) {
            r = fp_from_bytes(&cx->regs[it->dest], at, it->size, it->little, it->is_signed)
                ? RUN_ABORT : RUN_OK;
        }
        else if (it->code == 's') {
            r = fp_set_bytes(cx, it->dest, at, it->size) ? RUN_ERROR : RUN_OK;
        }
        else if (it->code == '?') {
            r = fp_set_bool(cx, it->dest, at[0] != 0) ? RUN_ERROR : RUN_OK;
        }
        else if (it->dest_kind == D_REG) {
            r = fp_to_reg(&cx->regs[it->dest], read_uint(at, it->size, s->e), it->size,
                          is_signed) ? RUN_ABORT : RUN_OK;
        }
        else {
            r = fp_set_read(cx, it->dest, read_uint(at, it->size, s->e), it->size, is_signed)
                ? RUN_ERROR : RUN_OK;
        }
        if (r != RUN_OK) {
            return r;
        }
    }
    return RUN_OK;
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

/* ---- the compiled built-in programs ----------------------------------------------------- */

typedef struct {
    const char *key;
    int (*function)(Ctx *, PyObject **);
} NativeProgram;

#include "_native_programs.h"

/* The compiled function of the program whose key (a hash of its text) is key, if any. */
void
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
static int interpret(Ctx *cx, PyObject **nxt_out);

int
run_program(Program *p, PyObject *self, Bytes *b, Py_ssize_t off, Py_ssize_t end,
            PyObject **nxt_out)
{
    Ctx cx;
    cx.p = p;
    cx.self = self;
    cx.buf = b->obj;
    cx.held = 0;
    if (b->kind == B_BYTES) {
        cx.data = b->data;
        cx.len = b->len;
    }
    else {
        /* a bytearray or view: where its bytes are now, exported while the program reads
         * them, so that no Python code run meanwhile (a finalizer of a slot's old value, a
         * collection) can move them; let go before the dispatch calls Python */
        if (!refresh_bytes(b)) {
            return RUN_ABORT;  /* a released view: Python's decoder says so */
        }
        if (PyObject_GetBuffer(b->obj, &cx.view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            return RUN_ABORT;
        }
        cx.held = 1;
        cx.data = cx.view.buf;
        cx.len = cx.view.len;
    }
    PyObject *dead_here[32];
    cx.dead = p->max_stores <= 32 ? dead_here : PyMem_New(PyObject *, p->max_stores);
    cx.ndead = 0;
    if (cx.dead == NULL) {
        ctx_release(&cx);
        PyErr_NoMemory();
        return RUN_ERROR;
    }
    cx.regs[0] = off;
    cx.regs[1] = end;
    /* the translator reads no register before writing it; zeroed anyway, for a program
     * that was written by hand */
    memset(cx.regs + 2, 0, sizeof(int64_t) * (size_t)(p->nregs - 2));
    int r = p->native != NULL ? p->native(&cx, nxt_out) : interpret(&cx, nxt_out);
    ctx_release(&cx);
    for (int i = 0; i < cx.ndead; i++) {
        Py_DECREF(cx.dead[i]);
    }
    if (cx.dead != dead_here) {
        PyMem_Free(cx.dead);
    }
    return r;
}

/* The interpreter: run cx's program statement by statement (see run_program). */
static int
interpret(Ctx *cx, PyObject **nxt_out)
{
    Program *p = cx->p;
    int pc = 0;
    int r;
    int64_t v;
    while (pc < p->nstmts) {
        const Stmt *s = &p->stmts[pc];
        switch (s->op) {
        case S_ABORT:
            return RUN_ABORT;
        case S_RET:
            return s->a >= 0 ? fp_ret_global(cx, s->a, nxt_out) : fp_ret_none(nxt_out);
        case S_JF:
            if ((r = eval(cx, s->a, &v)) != RUN_OK) {
                return r;
            }
            pc = v ? pc + 1 : s->b;
            continue;
        case S_ABORTIF:
            if ((r = eval(cx, s->a, &v)) != RUN_OK) {
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
            if ((r = eval(cx, s->b, &v)) != RUN_OK) {
                return r;
            }
            cx->regs[s->a] = v;
            break;
        case S_SET:
            if ((r = eval(cx, s->b, &v)) != RUN_OK) {
                return r;
            }
            if ((s->c ? fp_set_bool(cx, s->a, v) : fp_set_int(cx, s->a, v)) != 0) {
                return RUN_ERROR;
            }
            break;
        case S_OBJ:
            fp_set_const(cx, s->a, s->b);
            break;
        case S_BUF:
            fp_set_buf(cx, s->a);
            break;
        case S_TUPLE: {
            int64_t values[16];  /* compile_list allows 16 */
            for (int i = 0; i < s->c; i++) {
                if ((r = eval(cx, p->lists[s->b + i], &values[i])) != RUN_OK) {
                    return r;
                }
            }
            if (fp_set_tuple(cx, s->a, values, s->c)) {
                return RUN_ERROR;
            }
            break;
        }
        case S_SLICE: {
            int64_t lo, hi;
            if ((r = eval(cx, s->b, &lo)) != RUN_OK || (r = eval(cx, s->c, &hi)) != RUN_OK) {
                return r;
            }
            if ((r = fp_set_slice(cx, s->a, lo, hi, s->d)) != RUN_OK) {
                return r;
            }
            break;
        }
        case S_UNPACK:
            if ((r = run_unpack(cx, s)) != RUN_OK) {
                return r;
            }
            break;
        case S_DISPATCH:
            return run_dispatch(cx, s, nxt_out);
        }
        pc++;
    }
    Py_INCREF(Py_None);
    *nxt_out = Py_None;
    return RUN_OK;
}

