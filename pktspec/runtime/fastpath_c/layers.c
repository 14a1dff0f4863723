/* One layer, the eager loop and the lazy step (see fastpath.h). */
#include "fastpath.h"

/* ---- buffers ------------------------------------------------------------------------ */



/* Where obj's bytes are now: 1, or 0 when it can no longer be read (a released view). */
int
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
int
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


/* A fresh, empty instance of cls, as the Python loop's object.__new__(cls) makes it: made
 * directly for layer classes, by object.__new__ itself for anything else (its checks and
 * messages: a non-type, a built-in type). */
PyObject *
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
PyObject *
decode_one(PyObject *cls, PyObject **layer, int fresh, PyObject *buf, Bytes *b,
           Py_ssize_t off, Py_ssize_t end)
{
    Program *p = program_of(cls);
    if (p != NULL && Py_IS_TYPE(*layer, (PyTypeObject *)cls)) {
        PyObject *nxt = NULL;
        Py_INCREF(p);  /* held while it runs: a guard may rebind cls._fast */
        int r = run_program(p, *layer, b, off, end, &nxt);
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
int
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
PyObject *
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
PyObject *
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

PyObject *
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
    PyObject *owner = ((Program *)program)->owner;
    if (owner == NULL || !PyObject_TypeCheck(layer, (PyTypeObject *)owner)) {
        PyErr_SetString(PyExc_TypeError, "layer is not an instance of the program's class");
        return NULL;
    }
    Bytes b;
    if (!get_bytes(buf, &b)) {
        PyErr_SetString(PyExc_TypeError, "buf must be bytes, a bytearray or a byte view");
        return NULL;
    }
    PyObject *nxt = NULL;
    Py_INCREF(program);
    int r = run_program((Program *)program, layer, &b, off, end, &nxt);
    Py_DECREF(program);
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
PyObject *
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

