/*
 * pktspec.runtime._fastpath: the optional compiled decode loop (docs/FASTPATH.md).
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
 * files. The pure-Python loops in packet.py, parser.py and reassembly/tcp.py are the
 * specification of the loops here, statement for statement.
 *
 * The files, one concept each, all built into the one extension (setup.py):
 *   fastpath.h         what they share: the program's form, the runtime's objects, slots
 *   module.c           the module, configure() and the runtime's objects
 *   program_compile.c  a generated _PROGRAM tuple checked and compiled into a Program
 *   program_run.c      running a program: the interpreter, and the compiled built-in
 *                      programs (../../protocols/_native_programs.h) with their helpers
 *   layers.c           one layer, the eager loop (decode_eager) and the lazy step
 *   parser.c           the Parser's decode_layers (ChainDecoder)
 *   in_order.c         the TCP assembler's in-order path (InOrderPath)
 */
#ifndef PKTSPEC_FASTPATH_H
#define PKTSPEC_FASTPATH_H

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


typedef struct {
    int op;
    int a, b, c;      /* child nodes, or the register / slot index */
    int64_t value;    /* E_CONST */
} Node;

/* ---- statements --------------------------------------------------------------------- */

enum { S_ABORT, S_RET, S_JF, S_J, S_REG, S_SET, S_OBJ, S_BUF, S_TUPLE, S_SLICE, S_UNPACK,
       S_DISPATCH, S_ABORTIF };


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
    int max_stores;       /* slot stores a run can make (jumps go forward: each at most once) */
    Py_ssize_t *slot_offsets;
    Stmt *stmts;
    Node *nodes;
    Item *items;
    int *lists;           /* expression lists (tuple items, dispatch keys) */
    int (*native)(struct Ctx_ *, PyObject **);  /* the compiled form, for built-in layers */
} Program;


extern PyTypeObject ProgramType, ChainDecoderType, InOrderPathType;

/* interned names, made when the module is imported (module.c) */
extern PyObject *s_decode, *s_heuristics, *s_guarded, *s_lookup, *s_refused, *s_guard,
    *s_fail, *s_fast, *s_layer_class, *s_payload, *s_recent, *s_quotes, *s_reassembled;
extern PyObject *empty_tuple, *long_zero, *object_new;

/* the runtime's classes, functions and slot offsets, given by configure() */
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

extern Runtime RT;

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Store value (a new reference, stolen) in obj's slot at off. */
static inline void
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

enum { RUN_OK = 0, RUN_ABORT = 1, RUN_ERROR = -1 };

typedef struct Ctx_ {
    Program *p;
    PyObject *self;
    PyObject *buf;
    const unsigned char *data;
    Py_ssize_t len;
    Py_buffer view;   /* a bytearray's or view's export, held while the program reads */
    int held;
    PyObject **dead;  /* old values of the slots it replaced, released when it ends */
    int ndead;
    int64_t regs[MAX_REGS];
} Ctx;

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

/* module.c */
Py_ssize_t member_offset(PyTypeObject *type, PyObject *name);
Py_ssize_t member_offset_str(PyObject *type, const char *name);
int check_configured(void);

/* program_compile.c / program_run.c */
void bind_native(Program *p, const char *key);
int run_program(Program *p, PyObject *self, Bytes *b, Py_ssize_t off, Py_ssize_t end,
                PyObject **nxt_out);

/* layers.c */
int get_bytes(PyObject *buf, Bytes *b);
int refresh_bytes(Bytes *b);
PyObject *new_layer(PyObject *cls);
PyObject *decode_one(PyObject *cls, PyObject **layer, int fresh, PyObject *buf, Bytes *b,
                     Py_ssize_t off, Py_ssize_t end);
int layer_bounds(PyObject *layer, Py_ssize_t *off, Py_ssize_t *end);
PyObject *catch_exception(void);
PyObject *fp_decode_eager(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                          PyObject *kwnames);
PyObject *fp_decode_layer(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *fp_run(PyObject *module, PyObject *args);

#endif
