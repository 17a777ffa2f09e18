/* dream.parsing._speedups: the hot row loops of ps aux, ps -ef and the tasklist table in C.
 *
 * The pure-Python parsers (ps.py, tasklist.py) are the reference. These loops only take the
 * common shape of a row (ASCII digits, plain decimals, a plain argv[0]); anything else makes
 * them stop at that line and hand it to the reference, so results are identical by
 * construction. Everything derived from text (users, apps, interned strings, CPU times) still
 * comes from the Python memo functions; C merely remembers recent answers per column.
 *
 * Records are built without running the dataclass __init__ (a Python function, ~0.4 us a row):
 * the instance is allocated and its 21 slots are filled at the offsets of their descriptors,
 * which `configure` checks against the field list once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

#define NFIELDS 21
enum {
    F_PID, F_PPID, F_USER, F_NAME, F_COMMAND, F_APP, F_IS_SYSTEM, F_CPU, F_MEM, F_RSS, F_VSZ,
    F_STATE, F_TTY, F_STARTED, F_CPU_SECONDS, F_THREADS, F_SESSION, F_SESSION_NAME, F_STATUS,
    F_TITLE, F_VERSION
};
static const char *const FIELD_NAMES[NFIELDS] = {
    "pid", "ppid", "user", "name", "command", "app", "is_system", "cpu_percent", "mem_percent",
    "rss_kb", "vsz_kb", "state", "tty", "started", "cpu_seconds", "threads", "session",
    "session_name", "status", "window_title", "version",
};

static PyTypeObject *record_type = NULL;
static Py_ssize_t offsets[NFIELDS];

/* Floats "0.0" .. "999.9" (how ps prints %CPU/%MEM), shared: a listing repeats them a lot. */
#define TENTHS 10000
static PyObject *tenths[TENTHS];

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15};

/* ------------------------------------------------------------------------ records */

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *type, *names;
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &type, &PyTuple_Type, &names))
        return NULL;
    if (PyTuple_GET_SIZE(names) != NFIELDS) {
        PyErr_SetString(PyExc_ValueError, "ProcessRecord does not have the 21 expected fields");
        return NULL;
    }
    Py_ssize_t found[NFIELDS];
    for (int i = 0; i < NFIELDS; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_Check(name) || PyUnicode_CompareWithASCIIString(name, FIELD_NAMES[i])) {
            PyErr_Format(PyExc_ValueError, "field %d is not %s", i, FIELD_NAMES[i]);
            return NULL;
        }
        PyObject *descr = PyObject_GetAttr(type, name);
        if (descr == NULL)
            return NULL;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type)
                 && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX
                 && ((PyMemberDescrObject *)descr)->d_common.d_type == (PyTypeObject *)type;
        if (ok)
            found[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s is not a slot of the record type", FIELD_NAMES[i]);
            return NULL;
        }
    }
    Py_INCREF(type);
    Py_XSETREF(record_type, (PyTypeObject *)type);
    memcpy(offsets, found, sizeof(offsets));
    Py_RETURN_NONE;
}

/* A record from 21 new references in field order (stolen, also on failure). */
static PyObject *
make_record(PyObject **values)
{
    PyObject *obj = record_type->tp_alloc(record_type, 0);
    if (obj == NULL) {
        for (int i = 0; i < NFIELDS; i++)
            Py_DECREF(values[i]);
        return NULL;
    }
    for (int i = 0; i < NFIELDS; i++)
        *(PyObject **)((char *)obj + offsets[i]) = values[i];
    return obj;
}

/* ------------------------------------------------------------------------ spans of a line */

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
} text_t;

#define CH(t, i) PyUnicode_READ((t)->kind, (t)->data, (i))

static inline Py_ssize_t
skip_space(const text_t *t, Py_ssize_t i, Py_ssize_t end)
{
    while (i < end && Py_UNICODE_ISSPACE(CH(t, i)))
        i++;
    return i;
}

static inline Py_ssize_t
skip_word(const text_t *t, Py_ssize_t i, Py_ssize_t end)
{
    while (i < end && !Py_UNICODE_ISSPACE(CH(t, i)))
        i++;
    return i;
}

/* str.split(None, maxsplit) into exactly `count` spans (the last one the rest of the line, as
 * split keeps it); 0 when the line has fewer fields. */
static int
split_fields(const text_t *t, Py_ssize_t *starts, Py_ssize_t *ends, int count)
{
    Py_ssize_t i = 0;
    for (int f = 0; f < count - 1; f++) {
        i = skip_space(t, i, t->len);
        if (i == t->len)
            return 0;
        starts[f] = i;
        i = skip_word(t, i, t->len);
        ends[f] = i;
    }
    i = skip_space(t, i, t->len);
    if (i == t->len)
        return 0;
    starts[count - 1] = i;
    ends[count - 1] = t->len;
    return 1;
}

/* Where the command starts after a forest's tree art (`ps f`, `--forest`: "|   \_ cmd"), as
 * apps.strip_forest cuts it; `a` itself when the span has no art. */
static Py_ssize_t
skip_forest(const text_t *t, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t i = a;
    while (i < b && (CH(t, i) == '|' || CH(t, i) == ' '))
        i++;
    if (i + 1 < b && CH(t, i) == '\\' && CH(t, i + 1) == '_') {
        i = skip_space(t, i + 2, b);
        if (i < b)
            return i;
    }
    return a;
}

/* Non-negative ASCII decimal of at most 18 digits (what int() gives for it). */
static inline int
span_digits(const text_t *t, Py_ssize_t a, Py_ssize_t b, long long *out)
{
    if (b <= a || b - a > 18)
        return 0;
    long long v = 0;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 c = CH(t, i);
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 1;
}

/* 1: `*out` is int(span) as a new reference; 0: not plain digits (no error); -1: error. */
static inline int
span_int(const text_t *t, Py_ssize_t a, Py_ssize_t b, PyObject **out)
{
    long long v;
    if (!span_digits(t, a, b, &v))
        return 0;
    *out = PyLong_FromLongLong(v);
    return *out == NULL ? -1 : 1;
}

/* float(span) for `digits` or `digits.digits` with at most 15 digits: m / 10**k of exact
 * doubles is correctly rounded, as float() is. Same 1/0/-1 contract as span_int. */
static inline int
span_float(const text_t *t, Py_ssize_t a, Py_ssize_t b, PyObject **out)
{
    long long m = 0;
    int digits = 0, frac = -1;
    if (b <= a)
        return 0;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 c = CH(t, i);
        if (c >= '0' && c <= '9') {
            if (++digits > 15)
                return 0;
            m = m * 10 + (c - '0');
            if (frac >= 0)
                frac++;
        }
        else if (c == '.' && frac < 0 && i > a && i + 1 < b)
            frac = 0;
        else
            return 0;
    }
    if (frac == 1 && m < TENTHS) {
        if (tenths[m] == NULL && (tenths[m] = PyFloat_FromDouble((double)m / 10.0)) == NULL)
            return -1;
        Py_INCREF(tenths[m]);
        *out = tenths[m];
        return 1;
    }
    *out = PyFloat_FromDouble((double)m / POW10[frac < 0 ? 0 : frac]);
    return *out == NULL ? -1 : 1;
}

/* Whole seconds 0 .. 32767 as floats, shared like the tenths (CPU times repeat). */
#define SECONDS 32768
static PyObject *seconds[SECONDS];

/* duration_seconds for `m:ss` and `h:mm:ss` of plain digits, the seconds maybe with up to 3
 * decimals (BSD's `7:53.61`). Same 1/0/-1 contract as span_int. */
static inline int
span_duration(const text_t *t, Py_ssize_t a, Py_ssize_t b, PyObject **out)
{
    long long total = 0, part = 0;
    int parts = 1, digits = 0;
    Py_ssize_t i;
    for (i = a; i < b; i++) {
        Py_UCS4 c = CH(t, i);
        if (c >= '0' && c <= '9') {
            if (++digits > 9)
                return 0;
            part = part * 10 + (c - '0');
        }
        else if (c == ':' && digits > 0 && parts < 3) {
            total = total * 60 + part;
            part = 0;
            digits = 0;
            parts++;
        }
        else if (c == '.' && digits > 0 && parts >= 2)
            break;
        else
            return 0;
    }
    if (digits == 0 || parts < 2)
        return 0;
    if (i < b) {  /* a fraction of at most 3 digits: the seconds are i - digits .. b */
        long long whole = total * 60 + part, frac = 0;
        int places = 0;
        for (i++; i < b; i++) {
            Py_UCS4 c = CH(t, i);
            if (c < '0' || c > '9' || ++places > 3)
                return 0;
            frac = frac * 10 + (c - '0');
        }
        if (places == 0)
            return 0;
        /* round(whole + float(s.fff), 3) is the double nearest to whole.fff, which one
         * correctly rounded division of exact values gives. */
        *out = PyFloat_FromDouble((double)(whole * (long long)POW10[places] + frac)
                                  / POW10[places]);
        return *out == NULL ? -1 : 1;
    }
    total = total * 60 + part;
    if (total < SECONDS) {
        if (seconds[total] == NULL
            && (seconds[total] = PyFloat_FromDouble((double)total)) == NULL)
            return -1;
        *out = Py_NewRef(seconds[total]);
        return 1;
    }
    *out = PyFloat_FromDouble((double)total);
    return *out == NULL ? -1 : 1;
}

static inline int
span_is(const text_t *t, Py_ssize_t a, Py_ssize_t b, const char *ascii)
{
    Py_ssize_t n = (Py_ssize_t)strlen(ascii);
    if (b - a != n)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (CH(t, a + i) != (Py_UCS4)(unsigned char)ascii[i])
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------ per-column caches */

/* A small direct-mapped memo from a span's characters to a value: hits cost no allocation.
 * Misses ask the Python memo function, which also interns the text across the whole parse. */
typedef struct {
    PyObject *key; /* str */
    PyObject *value;
    Py_uhash_t hash;
} entry_t;

#define WAYS 64
typedef struct {
    entry_t e[WAYS];
} cache_t;

static inline Py_uhash_t
span_hash(const text_t *t, Py_ssize_t a, Py_ssize_t b)
{
    Py_uhash_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = a; i < b; i++)
        h = (h ^ CH(t, i)) * 1099511628211ULL;
    return h ^ (Py_uhash_t)(b - a);
}

static inline int
span_equals(PyObject *key, const text_t *t, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t n = b - a;
    if (PyUnicode_GET_LENGTH(key) != n)
        return 0;
    int kind = PyUnicode_KIND(key);
    const void *data = PyUnicode_DATA(key);
    if (kind == t->kind)
        return memcmp(data, (const char *)t->data + a * kind, (size_t)(n * kind)) == 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyUnicode_READ(kind, data, i) != CH(t, a + i))
            return 0;
    return 1;
}

static void
cache_clear(cache_t *c)
{
    for (int i = 0; i < WAYS; i++) {
        Py_CLEAR(c->e[i].key);
        Py_CLEAR(c->e[i].value);
    }
}

/* What `fn` says about the span's text (a borrowed reference, valid until the slot is
 * reused), or NULL on error. With `pair`, fn is called as fn(text, text) (dict.setdefault). */
static PyObject *
cache_get(cache_t *c, const text_t *t, PyObject *line, Py_ssize_t a, Py_ssize_t b,
          PyObject *fn, int pair)
{
    Py_uhash_t h = span_hash(t, a, b);
    entry_t *e = &c->e[(h ^ (h >> 17)) & (WAYS - 1)];
    if (e->key != NULL && e->hash == h && span_equals(e->key, t, a, b))
        return e->value;
    PyObject *key = PyUnicode_Substring(line, a, b);
    if (key == NULL)
        return NULL;
    PyObject *value = pair ? PyObject_CallFunctionObjArgs(fn, key, key, NULL)
                           : PyObject_CallOneArg(fn, key);
    if (value == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    Py_XSETREF(e->key, key);
    Py_XSETREF(e->value, value);
    e->hash = h;
    return value;
}

/* A borrowed 3-tuple (name, app, is_system) or 2-tuple (value, is_system) check. */
static inline int
check_tuple(PyObject *value, Py_ssize_t size)
{
    if (PyTuple_Check(value) && PyTuple_GET_SIZE(value) == size)
        return 1;
    PyErr_SetString(PyExc_TypeError, "memo function returned an unexpected value");
    return 0;
}

/* ------------------------------------------------------------------------ ps aux / ps -ef */

#define BUNDLE ".app/Contents/MacOS/"
#define BUNDLE_LEN 20

/* argv[0] when describe_command would reduce to describe_executable(argv[0]): ASCII, not a
 * [kernel thread] / (zombie) / "quoted path" / BusyBox {comm}, no .app bundle and no .exe
 * anywhere. */
static int
plain_executable(const text_t *t, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *exe_end)
{
    Py_UCS4 first = CH(t, a);
    if (first == '[' || first == '(' || first == '"' || first == '{')
        return 0;
    Py_ssize_t end = -1;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 c = CH(t, i);
        if (c >= 128)
            return 0;
        if (end < 0 && Py_UNICODE_ISSPACE(c))
            end = i;
        if (c == '.' && i + 3 < b) {
            Py_UCS4 c1 = CH(t, i + 1) | 0x20, c2 = CH(t, i + 2) | 0x20, c3 = CH(t, i + 3) | 0x20;
            if (c1 == 'e' && c2 == 'x' && c3 == 'e')  /* ".exe" in command.lower() */
                return 0;
            if (i + BUNDLE_LEN <= b && span_is(t, i, i + BUNDLE_LEN, BUNDLE))
                return 0;
        }
    }
    *exe_end = end < 0 ? b : end;
    return 1;
}

/* Commands repeat (kernel threads, worker pools): sharing one str per distinct command line
 * keeps a parsed listing small; the bigger table finds them among the unique ones. */
#define COMMAND_WAYS 1024

typedef struct {
    cache_t users, ttys, states, starts, times, exes;
    entry_t commands[COMMAND_WAYS]; /* command line -> (name, app, is_system) */
    PyObject *user_fn, *intern_fn, *time_fn, *command_fn, *exe_fn;
} ps_ctx;

static void
ps_ctx_clear(ps_ctx *x)
{
    cache_clear(&x->users);
    cache_clear(&x->ttys);
    cache_clear(&x->states);
    cache_clear(&x->starts);
    cache_clear(&x->times);
    cache_clear(&x->exes);
    for (int i = 0; i < COMMAND_WAYS; i++) {
        Py_CLEAR(x->commands[i].key);
        Py_CLEAR(x->commands[i].value);
    }
}

/* (name, app, is_system) of the command span, a new reference; `*command` gets its text. */
static PyObject *
describe(ps_ctx *x, const text_t *t, PyObject *line, Py_ssize_t a, Py_ssize_t b,
         PyObject **command)
{
    Py_uhash_t h = span_hash(t, a, b);
    entry_t *e = &x->commands[(h ^ (h >> 17)) & (COMMAND_WAYS - 1)];
    if (e->key != NULL && e->hash == h && span_equals(e->key, t, a, b)) {
        *command = Py_NewRef(e->key);
        return Py_NewRef(e->value);
    }
    *command = PyUnicode_Substring(line, a, b);
    if (*command == NULL)
        return NULL;
    Py_ssize_t exe_end;
    PyObject *info;
    if (plain_executable(t, a, b, &exe_end)) {
        info = cache_get(&x->exes, t, line, a, exe_end, x->exe_fn, 0);
        Py_XINCREF(info);
    }
    else
        info = PyObject_CallOneArg(x->command_fn, *command);
    if (info == NULL || !check_tuple(info, 3)) {
        Py_XDECREF(info);
        Py_CLEAR(*command);
        return NULL;
    }
    Py_XSETREF(e->key, Py_NewRef(*command));
    Py_XSETREF(e->value, Py_NewRef(info));
    e->hash = h;
    return info;
}

/* Text column interned through the parse-wide dict, or None for "?", "??", "-" (no tty). */
static PyObject *
text_value(cache_t *c, ps_ctx *x, const text_t *t, PyObject *line, Py_ssize_t a, Py_ssize_t b,
           int tty)
{
    if (tty && (span_is(t, a, b, "?") || span_is(t, a, b, "??") || span_is(t, a, b, "-")))
        Py_RETURN_NONE;
    PyObject *v = cache_get(c, t, line, a, b, x->intern_fn, 1);
    Py_XINCREF(v);
    return v;
}

#define AUX_FIELDS 11
#define EF_FIELDS 8

/* 1: a record was appended; 0: the reference must handle this line; -1: error. */
static int
ps_line(ps_ctx *x, PyObject *line, PyObject *out, int ef)
{
    text_t t = {PyUnicode_KIND(line), PyUnicode_DATA(line), PyUnicode_GET_LENGTH(line)};
    Py_ssize_t s[AUX_FIELDS], e[AUX_FIELDS];
    PyObject *v[NFIELDS] = {NULL};
    PyObject *info = NULL, *user = NULL;
    int rc = -1, r;
    long long scratch;
    if (!split_fields(&t, s, e, ef ? EF_FIELDS : AUX_FIELDS))
        return 0;
    /* Numbers first: a row that is not plain goes to the reference before any work is done. */
    if (ef) {
        if (!span_digits(&t, s[3], e[3], &scratch))  /* C: only validates the row's shape */
            return 0;
        if ((r = span_int(&t, s[1], e[1], &v[F_PID])) <= 0
            || (r = span_int(&t, s[2], e[2], &v[F_PPID])) <= 0)
            goto done;
    }
    else if ((r = span_int(&t, s[1], e[1], &v[F_PID])) <= 0
             || (r = span_float(&t, s[2], e[2], &v[F_CPU])) <= 0
             || (r = span_float(&t, s[3], e[3], &v[F_MEM])) <= 0
             || (r = span_int(&t, s[5], e[5], &v[F_RSS])) <= 0
             || (r = span_int(&t, s[4], e[4], &v[F_VSZ])) <= 0)
        goto done;
    int cmd = ef ? 7 : 10, tty = ef ? 5 : 6, start = ef ? 4 : 8, time = ef ? 6 : 9;
    s[cmd] = skip_forest(&t, s[cmd], e[cmd]);
    r = -1;
    info = describe(x, &t, line, s[cmd], e[cmd], &v[F_COMMAND]);
    if (info == NULL)
        goto done;
    user = cache_get(&x->users, &t, line, s[0], e[0], x->user_fn, 0);
    if (user == NULL || !check_tuple(user, 2))
        goto done;
    v[F_USER] = Py_NewRef(PyTuple_GET_ITEM(user, 0));
    v[F_NAME] = Py_NewRef(PyTuple_GET_ITEM(info, 0));
    v[F_APP] = Py_NewRef(PyTuple_GET_ITEM(info, 1));
    PyObject *system = PyTuple_GET_ITEM(info, 2);
    int truth = PyObject_IsTrue(system);
    if (truth < 0)
        goto done;
    v[F_IS_SYSTEM] = Py_NewRef(truth ? system : PyTuple_GET_ITEM(user, 1));
    if (!ef && (v[F_STATE] = text_value(&x->states, x, &t, line, s[7], e[7], 0)) == NULL)
        goto done;
    if ((v[F_TTY] = text_value(&x->ttys, x, &t, line, s[tty], e[tty], 1)) == NULL
        || (v[F_STARTED] = text_value(&x->starts, x, &t, line, s[start], e[start], 0)) == NULL)
        goto done;
    if ((r = span_duration(&t, s[time], e[time], &v[F_CPU_SECONDS])) < 0)
        goto done;
    if (r == 0) {
        r = -1;
        v[F_CPU_SECONDS] = cache_get(&x->times, &t, line, s[time], e[time], x->time_fn, 0);
        if (v[F_CPU_SECONDS] == NULL)
            goto done;
        Py_INCREF(v[F_CPU_SECONDS]);
    }
    r = 1;
done:
    Py_XDECREF(info);
    if (r <= 0) {
        for (int i = 0; i < NFIELDS; i++)
            Py_XDECREF(v[i]);
        return r;
    }
    for (int i = 0; i < NFIELDS; i++)
        if (v[i] == NULL)
            v[i] = Py_NewRef(Py_None);
    PyObject *record = make_record(v);
    if (record == NULL)
        return -1;
    rc = PyList_Append(out, record);
    Py_DECREF(record);
    return rc == 0 ? 1 : -1;
}

static int
check_lines(PyObject *lines, Py_ssize_t pos, PyObject *out)
{
    if (record_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.configure() was not called");
        return 0;
    }
    if (!PyList_CheckExact(lines) || !PyList_CheckExact(out)) {
        PyErr_SetString(PyExc_TypeError, "lines and out must be lists");
        return 0;
    }
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return 0;
    }
    return 1;
}

static PyObject *
ps_rows(PyObject *args, int ef)
{
    PyObject *lines, *out;
    Py_ssize_t pos;
    ps_ctx *x = PyMem_Calloc(1, sizeof(ps_ctx));  /* ~35 KiB: not for a thread's stack */
    if (x == NULL)
        return PyErr_NoMemory();
    if (!PyArg_ParseTuple(args, "OnOOOOOO", &lines, &pos, &out, &x->user_fn, &x->intern_fn,
                          &x->time_fn, &x->command_fn, &x->exe_fn)
        || !check_lines(lines, pos, out)) {
        PyMem_Free(x);
        return NULL;
    }
    Py_ssize_t i;
    int r = 1;
    for (i = pos; i < PyList_GET_SIZE(lines); i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        if (!PyUnicode_CheckExact(line))
            break;
        Py_INCREF(line);
        r = ps_line(x, line, out, ef);
        Py_DECREF(line);
        if (r <= 0)
            break;
    }
    ps_ctx_clear(x);
    PyMem_Free(x);
    return r < 0 ? NULL : PyLong_FromSsize_t(i);
}

static PyObject *
aux_rows(PyObject *module, PyObject *args)
{
    return ps_rows(args, 0);
}

static PyObject *
ef_rows(PyObject *module, PyObject *args)
{
    return ps_rows(args, 1);
}

/* ------------------------------------------------------------------------ tasklist table */

enum { T_IMAGE, T_PID, T_SESSION_NAME, T_SESSION, T_MEM, T_STATUS, T_USER, T_CPU, T_TITLE,
       T_KEYS };
#define MAX_COLUMNS 16

typedef struct {
    cache_t images, session_names, statuses, users, times, titles;
    PyObject *image_fn, *session_name_fn, *status_fn, *user_fn, *time_fn, *title_fn;
    Py_ssize_t starts[MAX_COLUMNS], ends[MAX_COLUMNS]; /* end -1: to the end of the line */
    int columns;
    int index[T_KEYS];
} tl_ctx;

static void
tl_ctx_clear(tl_ctx *x)
{
    cache_clear(&x->images);
    cache_clear(&x->session_names);
    cache_clear(&x->statuses);
    cache_clear(&x->users);
    cache_clear(&x->times);
    cache_clear(&x->titles);
}

/* memory_kb for ASCII digits grouped by , . ' or space with an optional K/KB/Ko suffix. */
static int
span_memory(const text_t *t, Py_ssize_t a, Py_ssize_t b, PyObject **out)
{
    for (; b > a; b--) {  /* rstrip(" KkBbOoiI") */
        Py_UCS4 c = CH(t, b - 1);
        if (c != ' ' && c != 'K' && c != 'k' && c != 'B' && c != 'b' && c != 'O' && c != 'o'
            && c != 'i' && c != 'I')
            break;
    }
    long long v = 0;
    int digits = 0;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 c = CH(t, i);
        if (c >= '0' && c <= '9') {
            if (++digits > 18)
                return 0;
            v = v * 10 + (c - '0');
        }
        else if (c != ',' && c != '.' && c != '\'' && c != ' ')
            return 0;
    }
    if (digits == 0)
        return 0;
    *out = PyLong_FromLongLong(v);
    return *out == NULL ? -1 : 1;
}

/* A cached 2-tuple's items as new references, or -1. */
static int
pair_items(PyObject *pair, PyObject **first, int *second)
{
    if (pair == NULL || !check_tuple(pair, 2))
        return -1;
    int truth = PyObject_IsTrue(PyTuple_GET_ITEM(pair, 1));
    if (truth < 0)
        return -1;
    *first = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
    *second = truth;
    return 0;
}

static int
tl_line(tl_ctx *x, PyObject *line, PyObject *out)
{
    text_t t = {PyUnicode_KIND(line), PyUnicode_DATA(line), PyUnicode_GET_LENGTH(line)};
    Py_ssize_t s[MAX_COLUMNS], e[MAX_COLUMNS];
    PyObject *v[NFIELDS] = {NULL};
    int system = 0, flag, r = 0;
    /* A line that may hold double-width characters (U+1100 and up, but for the general
     * punctuation block: dashes, quotes, ellipsis, all narrow) goes to the reference, which
     * cuts it by console columns. */
    if (t.kind != PyUnicode_1BYTE_KIND)
        for (Py_ssize_t i = 0; i < t.len; i++) {
            Py_UCS4 c = CH(&t, i);
            if (c >= 0x1100 && (c < 0x2000 || c > 0x206F))
                return 0;
        }
    for (int c = 0; c < x->columns; c++) {  /* line[a:b].strip() */
        Py_ssize_t a = x->starts[c] < t.len ? x->starts[c] : t.len;
        Py_ssize_t b = x->ends[c] < 0 || x->ends[c] > t.len ? t.len : x->ends[c];
        if (b < a)
            b = a;
        while (a < b && Py_UNICODE_ISSPACE(CH(&t, a)))
            a++;
        while (b > a && Py_UNICODE_ISSPACE(CH(&t, b - 1)))
            b--;
        s[c] = a;
        e[c] = b;
    }
#define HAS(key) (x->index[key] >= 0 && x->index[key] < x->columns)
#define S(key) s[x->index[key]]
#define E(key) e[x->index[key]]
    if (!HAS(T_PID) || (r = span_int(&t, S(T_PID), E(T_PID), &v[F_PID])) <= 0)
        goto done;
    if (HAS(T_SESSION) && (r = span_int(&t, S(T_SESSION), E(T_SESSION), &v[F_SESSION])) <= 0)
        goto done;
    if (HAS(T_MEM) && (r = span_memory(&t, S(T_MEM), E(T_MEM), &v[F_RSS])) <= 0)
        goto done;
    r = -1;
    if (HAS(T_IMAGE)) {  /* (name or None, app or None, is_system) */
        PyObject *info = cache_get(&x->images, &t, line, S(T_IMAGE), E(T_IMAGE), x->image_fn, 0);
        if (info == NULL || !check_tuple(info, 3) || (flag = PyObject_IsTrue(
                PyTuple_GET_ITEM(info, 2))) < 0)
            goto done;
        v[F_NAME] = Py_NewRef(PyTuple_GET_ITEM(info, 0));
        v[F_APP] = Py_NewRef(PyTuple_GET_ITEM(info, 1));
        system |= flag;
    }
    else
        goto unsupported;
    if (HAS(T_SESSION_NAME) && E(T_SESSION_NAME) > S(T_SESSION_NAME)) {
        PyObject *pair = cache_get(&x->session_names, &t, line, S(T_SESSION_NAME),
                                   E(T_SESSION_NAME), x->session_name_fn, 0);
        if (pair_items(pair, &v[F_SESSION_NAME], &flag) < 0)
            goto done;
        system |= flag;
    }
    if (v[F_SESSION] != NULL && PyLong_AsLongLong(v[F_SESSION]) == 0)
        system = 1;
    if (HAS(T_STATUS) && E(T_STATUS) > S(T_STATUS)) {
        v[F_STATUS] = cache_get(&x->statuses, &t, line, S(T_STATUS), E(T_STATUS), x->status_fn, 1);
        if (v[F_STATUS] == NULL)
            goto done;
        Py_INCREF(v[F_STATUS]);
    }
    if (HAS(T_USER)) {
        PyObject *pair = cache_get(&x->users, &t, line, S(T_USER), E(T_USER), x->user_fn, 0);
        if (pair_items(pair, &v[F_USER], &flag) < 0)
            goto done;
        system |= flag;
    }
    if (HAS(T_CPU)) {
        int fast = span_duration(&t, S(T_CPU), E(T_CPU), &v[F_CPU_SECONDS]);
        if (fast < 0)
            goto done;
        if (fast == 0) {
            v[F_CPU_SECONDS] = cache_get(&x->times, &t, line, S(T_CPU), E(T_CPU), x->time_fn, 0);
            if (v[F_CPU_SECONDS] == NULL)
                goto done;
            Py_INCREF(v[F_CPU_SECONDS]);
        }
    }
    if (HAS(T_TITLE)) {
        v[F_TITLE] = cache_get(&x->titles, &t, line, S(T_TITLE), E(T_TITLE), x->title_fn, 0);
        if (v[F_TITLE] == NULL)
            goto done;
        Py_INCREF(v[F_TITLE]);
    }
    v[F_IS_SYSTEM] = Py_NewRef(system ? Py_True : Py_False);
    r = 1;
    goto done;
unsupported:
    r = 0;
done:
#undef HAS
#undef S
#undef E
    if (r <= 0) {
        for (int i = 0; i < NFIELDS; i++)
            Py_XDECREF(v[i]);
        return r;
    }
    for (int i = 0; i < NFIELDS; i++)
        if (v[i] == NULL)
            v[i] = Py_NewRef(Py_None);
    PyObject *record = make_record(v);
    if (record == NULL)
        return -1;
    int rc = PyList_Append(out, record);
    Py_DECREF(record);
    return rc == 0 ? 1 : -1;
}

/* tasklist_rows(lines, pos, out, bounds, index, image_fn, session_name_fn, status_fn,
 *               user_fn, time_fn, title_fn) -> index of the first line left to the caller */
static PyObject *
tasklist_rows(PyObject *module, PyObject *args)
{
    PyObject *lines, *out, *bounds, *index;
    Py_ssize_t pos;
    tl_ctx x;
    memset(&x, 0, sizeof(x));
    if (!PyArg_ParseTuple(args, "OnOO!O!OOOOOO", &lines, &pos, &out, &PyTuple_Type, &bounds,
                          &PyTuple_Type, &index, &x.image_fn, &x.session_name_fn, &x.status_fn,
                          &x.user_fn, &x.time_fn, &x.title_fn)
        || !check_lines(lines, pos, out))
        return NULL;
    if (PyTuple_GET_SIZE(bounds) > MAX_COLUMNS || PyTuple_GET_SIZE(index) != T_KEYS) {
        PyErr_SetString(PyExc_ValueError, "unsupported tasklist layout");
        return NULL;
    }
    x.columns = (int)PyTuple_GET_SIZE(bounds);
    for (int c = 0; c < x.columns; c++) {
        PyObject *item = PyTuple_GET_ITEM(bounds, c);
        if (!PyArg_ParseTuple(item, "nn", &x.starts[c], &x.ends[c]))
            return NULL;
        if (x.starts[c] < 0) {
            PyErr_SetString(PyExc_ValueError, "negative column start");
            return NULL;
        }
    }
    for (int k = 0; k < T_KEYS; k++) {
        long value = PyLong_AsLong(PyTuple_GET_ITEM(index, k));
        if (value == -1 && PyErr_Occurred())
            return NULL;
        x.index[k] = value < 0 || value >= MAX_COLUMNS ? -1 : (int)value;
    }
    Py_ssize_t i;
    for (i = pos; i < PyList_GET_SIZE(lines); i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        if (!PyUnicode_CheckExact(line))
            break;
        Py_INCREF(line);
        int r = tl_line(&x, line, out);
        Py_DECREF(line);
        if (r < 0) {
            tl_ctx_clear(&x);
            return NULL;
        }
        if (r == 0)
            break;
    }
    tl_ctx_clear(&x);
    return PyLong_FromSsize_t(i);
}

/* ------------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(record_type, field_names): check and remember the record's slot layout."},
    {"aux_rows", aux_rows, METH_VARARGS,
     "aux_rows(lines, pos, out, user, intern, time, command, executable) -> stop index"},
    {"ef_rows", ef_rows, METH_VARARGS,
     "ef_rows(lines, pos, out, user, intern, time, command, executable) -> stop index"},
    {"tasklist_rows", tasklist_rows, METH_VARARGS,
     "tasklist_rows(lines, pos, out, bounds, index, image, session_name, status, user, time,"
     " title) -> stop index"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "C loops for the common rows of ps aux, ps -ef and tasklist tables (see accel.py).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module_def);
}
