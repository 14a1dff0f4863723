/* The module, configure() and the runtime's objects (see fastpath.h). */
#include "fastpath.h"

PyObject *s_decode, *s_heuristics, *s_guarded, *s_lookup, *s_refused, *s_guard, *s_fail,
    *s_fast, *s_layer_class, *s_payload, *s_recent, *s_quotes, *s_reassembled;
PyObject *empty_tuple, *long_zero, *object_new;
Runtime RT;

/* The byte offset of a __slots__ member named name in type, or -1 (error set). */
Py_ssize_t
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

Py_ssize_t
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

int
check_configured(void)
{
    if (!RT.configured) {
        PyErr_SetString(PyExc_RuntimeError, "pktspec.runtime._fastpath is not configured");
        return -1;
    }
    return 0;
}

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
        {&s_payload, "payload"}, {&s_recent, "_recent"},
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
