/* The Parser's decode_layers (see fastpath.h). */
#include "fastpath.h"

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

PyTypeObject ChainDecoderType = {
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


