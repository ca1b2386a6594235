/* The rollup's check-and-count loop in C: republish.stats._linecount.count_lines.
 *
 * The same function as republish.stats.linecount.count_lines_py (the pure-Python twin,
 * which tests hold it equal to): the same arguments, the same results in the same dicts,
 * the same return value. Lines are those of republish.hits:
 *
 *     1<TAB>ts_ms<TAB>story<TAB>verdict<TAB>reason<TAB>visitor<TAB>page<TAB>crc32hex\n
 *
 * Speed comes from not making objects a line does not need: the story, page, verdict and
 * reason of a call are made once per distinct value (a table of this call's strings), the
 * day number once per run of lines of the same day, and a line's key tuple once. Numbers
 * that are not plain (a CRC that is not 8 hex digits, a time that is not 1 to 18 ASCII
 * digits) are read by Python's own int(), so the two loops agree on every input.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define DAY_MS 86400000LL

/* ---- this call's strings: content -> one bytes object ------------------------------ */

typedef struct {
    uint64_t hash;
    PyObject *bytes; /* owned; NULL when the slot is free */
} Slot;

typedef struct {
    Slot *slots;
    size_t mask; /* capacity - 1 (capacity a power of two) */
    size_t used;
} Strings;

static uint64_t
hash_span(const char *p, size_t n)
{
    /* Multiply-xor over 8-byte words, then the tail; only for this table, not for Python. */
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h;
}

static int
strings_init(Strings *s)
{
    s->mask = 1023;
    s->used = 0;
    s->slots = PyMem_Calloc(s->mask + 1, sizeof(Slot));
    if (s->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
strings_free(Strings *s)
{
    if (s->slots == NULL)
        return;
    for (size_t i = 0; i <= s->mask; i++)
        Py_XDECREF(s->slots[i].bytes);
    PyMem_Free(s->slots);
    s->slots = NULL;
}

static int
strings_grow(Strings *s)
{
    size_t capacity = (s->mask + 1) * 2;
    Slot *slots = PyMem_Calloc(capacity, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= s->mask; i++) {
        Slot old = s->slots[i];
        if (old.bytes == NULL)
            continue;
        size_t j = (size_t)old.hash & (capacity - 1);
        while (slots[j].bytes != NULL)
            j = (j + 1) & (capacity - 1);
        slots[j] = old;
    }
    PyMem_Free(s->slots);
    s->slots = slots;
    s->mask = capacity - 1;
    return 0;
}

/* A borrowed reference to the bytes object with content p[0:n] (made on first sight). */
static PyObject *
strings_get(Strings *s, const char *p, size_t n)
{
    uint64_t h = hash_span(p, n);
    size_t i = (size_t)h & s->mask;
    for (;;) {
        Slot *slot = &s->slots[i];
        if (slot->bytes == NULL)
            break;
        if (slot->hash == h && (size_t)PyBytes_GET_SIZE(slot->bytes) == n &&
            memcmp(PyBytes_AS_STRING(slot->bytes), p, n) == 0)
            return slot->bytes;
        i = (i + 1) & s->mask;
    }
    PyObject *bytes = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    if (bytes == NULL)
        return NULL;
    s->slots[i].hash = h;
    s->slots[i].bytes = bytes;
    s->used++;
    if (s->used * 2 > s->mask + 1 && strings_grow(s) < 0)
        return NULL; /* the object stays owned by the table, which is freed by the caller */
    return bytes;
}

/* ---- numbers ----------------------------------------------------------------------- */

static uint32_t
crc_of(const char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, (const Bytef *)p, part);
        p += part;
        n -= part;
    }
    return (uint32_t)crc;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Whether the 8 bytes at p, read as Python's int(p[0:8], 16) reads them, equal crc:
 * 1 yes, 0 no or not a number (a damaged line), -1 error (exception set). */
static int
crc_matches(const char *p, uint32_t crc)
{
    uint32_t value = 0;
    for (int i = 0; i < 8; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            goto slow;
        value = value << 4 | (uint32_t)d;
    }
    return value == crc;
slow:; /* "0x...", signs, blanks, underscores: whatever int() takes */
    PyObject *number = PyObject_CallFunction((PyObject *)&PyLong_Type, "y#i", p, (Py_ssize_t)8, 16);
    if (number == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    PyObject *expected = PyLong_FromUnsignedLong(crc);
    if (expected == NULL) {
        Py_DECREF(number);
        return -1;
    }
    int equal = PyObject_RichCompareBool(number, expected, Py_EQ);
    Py_DECREF(number);
    Py_DECREF(expected);
    return equal;
}

/* ---- the loop ---------------------------------------------------------------------- */

/* Find the 7 fields of body[0:n] split at tabs; 1 if there are exactly 7, else 0. */
static int
split_fields(const char *body, size_t n, const char *start[7], size_t len[7])
{
    const char *p = body;
    const char *end = body + n;
    for (int i = 0; i < 6; i++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL)
            return 0;
        start[i] = p;
        len[i] = (size_t)(tab - p);
        p = tab + 1;
    }
    if (memchr(p, '\t', (size_t)(end - p)) != NULL)
        return 0;
    start[6] = p;
    len[6] = (size_t)(end - p);
    return 1;
}

/* value + 1, as Python's "value + 1" (new reference). */
static PyObject *
plus_one(PyObject *value)
{
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (!overflow && v < LLONG_MAX)
            return PyLong_FromLongLong(v + 1);
    }
    PyObject *one = PyLong_FromLong(1);
    if (one == NULL)
        return NULL;
    PyObject *sum = PyNumber_Add(value, one);
    Py_DECREF(one);
    return sum;
}

/* seen.add(visitor) */
static int
add_to(PyObject *seen, PyObject *visitor)
{
    if (PySet_Check(seen))
        return PySet_Add(seen, visitor);
    PyObject *result = PyObject_CallMethod(seen, "add", "O", visitor);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

typedef struct {
    PyObject *counts, *readers, *first, *last;
    Strings strings;
    long long day; /* the day of day_obj */
    PyObject *day_obj;
    PyObject *day_ms; /* int 86400000, made when a time is not plain */
} Counting;

/* Count one line whose checks passed. ts_obj: the time when it was not plain (borrowed),
 * else NULL and ts is it. 0 ok, -1 error. */
static int
count_hit(Counting *c, const char *field[7], const size_t len[7], long long ts, PyObject *ts_obj)
{
    PyObject *day_obj = NULL, *key = NULL, *value = NULL, *visitor = NULL, *place = NULL,
             *pair = NULL, *ts_new = NULL;
    int status = -1;

    if (ts_obj == NULL) {
        long long day = ts / DAY_MS;
        if (c->day_obj == NULL || c->day != day) {
            PyObject *made = PyLong_FromLongLong(day);
            if (made == NULL)
                return -1;
            Py_XSETREF(c->day_obj, made);
            c->day = day;
        }
        day_obj = Py_NewRef(c->day_obj);
    }
    else {
        if (c->day_ms == NULL && (c->day_ms = PyLong_FromLongLong(DAY_MS)) == NULL)
            return -1;
        day_obj = PyNumber_FloorDivide(ts_obj, c->day_ms);
        if (day_obj == NULL)
            return -1;
    }

    PyObject *story = strings_get(&c->strings, field[2], len[2]);
    PyObject *verdict = story ? strings_get(&c->strings, field[3], len[3]) : NULL;
    PyObject *reason = verdict ? strings_get(&c->strings, field[4], len[4]) : NULL;
    PyObject *page = reason ? strings_get(&c->strings, field[6], len[6]) : NULL;
    if (page == NULL)
        goto done;

    /* counts[(story, page, day, verdict, reason)] += 1 */
    key = PyTuple_Pack(5, story, page, day_obj, verdict, reason);
    if (key == NULL)
        goto done;
    PyObject *count = PyDict_GetItemWithError(c->counts, key);
    if (count == NULL) {
        if (PyErr_Occurred())
            goto done;
        value = PyLong_FromLong(1);
    }
    else {
        Py_INCREF(count); /* the dict could drop it while we add */
        value = plus_one(count);
        Py_DECREF(count);
    }
    if (value == NULL || PyDict_SetItem(c->counts, key, value) < 0)
        goto done;

    if (!(len[3] == 5 && memcmp(field[3], "human", 5) == 0)) {
        status = 0;
        goto done;
    }
    if (len[5] > 0) {
        /* readers[(day, story, page)] gets the visitor */
        visitor = PyBytes_FromStringAndSize(field[5], (Py_ssize_t)len[5]);
        if (visitor == NULL)
            goto done;
        place = PyTuple_Pack(3, day_obj, story, page);
        if (place == NULL)
            goto done;
        PyObject *seen = PyDict_GetItemWithError(c->readers, place);
        if (seen == NULL) {
            if (PyErr_Occurred())
                goto done;
            PyObject *made = PySet_New(NULL);
            if (made == NULL)
                goto done;
            int failed = PySet_Add(made, visitor) < 0 || PyDict_SetItem(c->readers, place, made) < 0;
            Py_DECREF(made);
            if (failed)
                goto done;
        }
        else {
            Py_INCREF(seen);
            int failed = add_to(seen, visitor) < 0;
            Py_DECREF(seen);
            if (failed)
                goto done;
        }
    }
    if (len[6] > 0) {
        /* first[(story, page)] (when new) and last[(story, page)] = ts */
        if (ts_obj == NULL) {
            ts_new = PyLong_FromLongLong(ts);
            if (ts_new == NULL)
                goto done;
            ts_obj = ts_new;
        }
        pair = PyTuple_Pack(2, story, page);
        if (pair == NULL)
            goto done;
        int known = PyDict_Contains(c->first, pair);
        if (known < 0 || (!known && PyDict_SetItem(c->first, pair, ts_obj) < 0))
            goto done;
        if (PyDict_SetItem(c->last, pair, ts_obj) < 0)
            goto done;
    }
    status = 0;
done:
    Py_XDECREF(day_obj);
    Py_XDECREF(key);
    Py_XDECREF(value);
    Py_XDECREF(visitor);
    Py_XDECREF(place);
    Py_XDECREF(pair);
    Py_XDECREF(ts_new);
    return status;
}

/* Check and count one line (without its newline): 1 counted, 0 damaged, -1 error. */
static int
count_line(Counting *c, const char *line, size_t n)
{
    /* body, _, crc = line.rpartition(b"\t") */
    size_t tab = n;
    while (tab > 0 && line[tab - 1] != '\t')
        tab--;
    const char *body = line;
    size_t body_len = tab > 0 ? tab - 1 : 0;
    const char *crc = line + tab;
    if (n - tab != 8)
        return 0;
    int ok = crc_matches(crc, crc_of(body, body_len));
    if (ok <= 0)
        return ok;

    const char *field[7];
    size_t len[7];
    if (!split_fields(body, body_len, field, len))
        return 0;

    /* ts: plain ASCII digits are read here, anything else by int() */
    long long ts = 0;
    PyObject *ts_obj = NULL;
    int plain = len[1] >= 1 && len[1] <= 18;
    for (size_t i = 0; plain && i < len[1]; i++) {
        char d = field[1][i];
        if (d < '0' || d > '9')
            plain = 0;
        else
            ts = ts * 10 + (d - '0');
    }
    if (!plain) {
        PyObject *text = PyBytes_FromStringAndSize(field[1], (Py_ssize_t)len[1]);
        if (text == NULL)
            return -1;
        ts_obj = PyNumber_Long(text);
        Py_DECREF(text);
        if (ts_obj == NULL) {
            if (PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                return 0;
            }
            return -1;
        }
    }
    if (!(len[0] == 1 && field[0][0] == '1')) { /* republish.hits.FORMAT_VERSION */
        Py_XDECREF(ts_obj);
        return 0;
    }
    int status = count_hit(c, field, len, ts, ts_obj);
    Py_XDECREF(ts_obj);
    return status < 0 ? -1 : 1;
}

static PyObject *
count_lines(PyObject *module, PyObject *args)
{
    Py_buffer data;
    Counting c = {0};
    if (!PyArg_ParseTuple(args, "y*O!O!O!O!:count_lines", &data, &PyDict_Type, &c.counts,
                          &PyDict_Type, &c.readers, &PyDict_Type, &c.first, &PyDict_Type,
                          &c.last))
        return NULL;
    PyObject *result = NULL;
    const char *buf = data.buf;
    size_t size = (size_t)data.len;
    /* end = data.rfind(b"\n") + 1 */
    size_t end = size;
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    Py_ssize_t hits = 0, damaged = 0;
    if (strings_init(&c.strings) < 0)
        goto done;
    size_t at = 0;
    while (at < end) {
        const char *newline = memchr(buf + at, '\n', end - at);
        size_t stop = (size_t)(newline - buf); /* found: buf[end - 1] is a newline */
        int counted = count_line(&c, buf + at, stop - at);
        if (counted < 0)
            goto done;
        if (counted)
            hits++;
        else
            damaged++;
        at = stop + 1;
    }
    result = Py_BuildValue("nnn", (Py_ssize_t)end, hits, damaged);
done:
    strings_free(&c.strings);
    Py_XDECREF(c.day_obj);
    Py_XDECREF(c.day_ms);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(count_lines_doc,
             "count_lines(data, counts, readers, first, last) -> (end, hits, damaged)\n\n"
             "Check and count the complete lines of data into the dicts (counts a Counter);\n"
             "the same as republish.stats.linecount.count_lines_py, compiled.");

static PyMethodDef methods[] = {
    {"count_lines", count_lines, METH_VARARGS, count_lines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "republish.stats._linecount",
    .m_doc = "The rollup's check-and-count loop, compiled (see republish.stats.linecount).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__linecount(void)
{
    return PyModuleDef_Init(&module);
}
