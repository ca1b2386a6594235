/* The rollup's check-and-count loop in C: republish.stats._linecount.count_lines.
 *
 * The same function as republish.stats.linecount.count_lines_py (the pure-Python twin,
 * which tests hold it equal to): the same arguments, the same results in the same dicts
 * (new keys even enter them in the same order), the same return value. Lines are those
 * of republish.hits:
 *
 *     1<TAB>ts_ms<TAB>story<TAB>verdict<TAB>reason<TAB>visitor<TAB>page<TAB>crc32hex\n
 *
 * Speed comes from making Python objects only when a key is new in the call. A line is
 * looked up by its bytes in tables of this call: its place (story and page), its verdict
 * and reason, then its counts key (place, verdict and reason, day) and readers key (place,
 * day) as numbers. A key's first sight writes to the dicts at once; later hits wait in the
 * table (a count to add, the last time) and are written at the end of the call. Only the
 * visitor of a human hit is made per line (to add to the readers' set). Numbers that are
 * not plain (a CRC that is not 8 hex digits, a time that is not 1 to 18 ASCII digits) are
 * read by Python's own int(), so the two loops agree on every input.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define DAY_MS 86400000LL

static uint64_t
hash_span(const char *p, size_t n)
{
    /* Multiply-xor over 8-byte words, then the tail; only for these tables, not Python. */
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
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h;
}

static uint64_t
mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = (a * 0x9e3779b97f4a7c15ULL) ^ b;
    h = (h * 0xff51afd7ed558ccdULL) ^ c;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 31);
}

static int
same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* ---- an index: hash -> number of an item (the items are kept by its user) ----------- */

typedef struct {
    uint64_t hash;
    size_t item; /* number + 1; 0 when the slot is free */
} Slot;

typedef struct {
    Slot *slots;
    size_t mask; /* capacity - 1 (capacity a power of two) */
    size_t used;
} Index;

static int
index_init(Index *x)
{
    x->mask = 1023;
    x->used = 0;
    x->slots = PyMem_Calloc(x->mask + 1, sizeof(Slot));
    if (x->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The first slot of a probe for hash; then (i + 1) & mask. */
static size_t
index_start(const Index *x, uint64_t hash)
{
    return (size_t)(hash >> 7) & x->mask;
}

/* Put item at the free slot i (found by probing for hash); may grow the index. */
static int
index_put(Index *x, size_t i, uint64_t hash, size_t item)
{
    x->slots[i].hash = hash;
    x->slots[i].item = item + 1;
    x->used++;
    if (x->used * 2 <= x->mask + 1)
        return 0;
    size_t capacity = (x->mask + 1) * 2;
    Slot *slots = PyMem_Calloc(capacity, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t j = 0; j <= x->mask; j++) {
        if (x->slots[j].item == 0)
            continue;
        size_t k = (size_t)(x->slots[j].hash >> 7) & (capacity - 1);
        while (slots[k].item != 0)
            k = (k + 1) & (capacity - 1);
        slots[k] = x->slots[j];
    }
    PyMem_Free(x->slots);
    x->slots = slots;
    x->mask = capacity - 1;
    return 0;
}

/* Room for one more item in *items (an array of *count items of size bytes). */
static int
reserve(void **items, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity)
        return 0;
    size_t more = *capacity ? *capacity * 2 : 256;
    void *grown = more <= PY_SSIZE_T_MAX / size ? PyMem_Realloc(*items, more * size) : NULL;
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *items = grown;
    *capacity = more;
    return 0;
}

/* ---- this call's tables -------------------------------------------------------------- */

/* The parts below point into the data, which lives as long as the call. */

typedef struct {                 /* a string of the call: one bytes object per content */
    const char *p;
    size_t n;
    PyObject *bytes; /* owned */
} String;

typedef struct {                 /* a story and page */
    const char *story;
    size_t story_n;
    const char *page;
    size_t page_n;
    PyObject *story_obj, *page_obj; /* borrowed from the strings */
    PyObject *pair;                 /* owned: (story, page), once a human hit had a page */
    long long last;                 /* time of the latest such hit... */
    int pending;                    /* ...when it is still to be written to last */
} Place;

typedef struct {                 /* a verdict and reason, as one span (neither has a tab) */
    const char *p;
    size_t n;
    PyObject *verdict, *reason; /* borrowed from the strings */
    int human;
} Kind;

typedef struct {                 /* a key of counts (place, kind, day) or readers (place, day) */
    size_t place, kind;
    long long day;
    PyObject *obj; /* owned: the counts key tuple, or the readers' set */
    long long n;   /* counts: hits not yet added */
} Key;

typedef struct {
    PyObject *counts, *readers, *first, *last;
    Index string_index, place_index, kind_index, count_index, reader_index;
    String *strings;
    Place *places;
    Kind *kinds;
    Key *count_keys, *reader_keys;
    size_t n_strings, n_places, n_kinds, n_count_keys, n_reader_keys;
    size_t cap_strings, cap_places, cap_kinds, cap_count_keys, cap_reader_keys;
    long long day; /* the day of day_obj */
    PyObject *day_obj;
    PyObject *day_ms; /* int 86400000, made when a time is not a 64-bit number */
} Counting;

static int
tables_init(Counting *c)
{
    if (index_init(&c->string_index) < 0 || index_init(&c->place_index) < 0 ||
        index_init(&c->kind_index) < 0 || index_init(&c->count_index) < 0 ||
        index_init(&c->reader_index) < 0)
        return -1;
    return 0;
}

static void
tables_free(Counting *c)
{
    PyMem_Free(c->string_index.slots);
    PyMem_Free(c->place_index.slots);
    PyMem_Free(c->kind_index.slots);
    PyMem_Free(c->count_index.slots);
    PyMem_Free(c->reader_index.slots);
    for (size_t i = 0; i < c->n_strings; i++)
        Py_DECREF(c->strings[i].bytes);
    for (size_t i = 0; i < c->n_places; i++)
        Py_XDECREF(c->places[i].pair);
    for (size_t i = 0; i < c->n_count_keys; i++)
        Py_XDECREF(c->count_keys[i].obj); /* NULL only when the call failed making it */
    for (size_t i = 0; i < c->n_reader_keys; i++)
        Py_XDECREF(c->reader_keys[i].obj);
    PyMem_Free(c->strings);
    PyMem_Free(c->places);
    PyMem_Free(c->kinds);
    PyMem_Free(c->count_keys);
    PyMem_Free(c->reader_keys);
    Py_XDECREF(c->day_obj);
    Py_XDECREF(c->day_ms);
}

/* A borrowed reference to the bytes object with content p[0:n] (made on first sight). */
static PyObject *
string_of(Counting *c, const char *p, size_t n)
{
    uint64_t h = hash_span(p, n);
    size_t i = index_start(&c->string_index, h);
    for (Slot *slot; (slot = &c->string_index.slots[i])->item != 0;
         i = (i + 1) & c->string_index.mask) {
        String *s = &c->strings[slot->item - 1];
        if (slot->hash == h && same(s->p, s->n, p, n))
            return s->bytes;
    }
    if (reserve((void **)&c->strings, &c->cap_strings, c->n_strings, sizeof(String)) < 0)
        return NULL;
    PyObject *bytes = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    if (bytes == NULL)
        return NULL;
    c->strings[c->n_strings] = (String){p, n, bytes};
    c->n_strings++;
    if (index_put(&c->string_index, i, h, c->n_strings - 1) < 0)
        return NULL;
    return bytes;
}

/* The number of the place (story, page), made on first sight; (size_t)-1 on error. */
static size_t
place_of(Counting *c, const char *story, size_t story_n, const char *page, size_t page_n)
{
    uint64_t h = mix(hash_span(story, story_n), hash_span(page, page_n), 1);
    size_t i = index_start(&c->place_index, h);
    for (Slot *slot; (slot = &c->place_index.slots[i])->item != 0;
         i = (i + 1) & c->place_index.mask) {
        Place *p = &c->places[slot->item - 1];
        if (slot->hash == h && same(p->story, p->story_n, story, story_n) &&
            same(p->page, p->page_n, page, page_n))
            return slot->item - 1;
    }
    if (reserve((void **)&c->places, &c->cap_places, c->n_places, sizeof(Place)) < 0)
        return (size_t)-1;
    PyObject *story_obj = string_of(c, story, story_n);
    PyObject *page_obj = story_obj ? string_of(c, page, page_n) : NULL;
    if (page_obj == NULL)
        return (size_t)-1;
    c->places[c->n_places] = (Place){story, story_n, page, page_n, story_obj, page_obj, NULL, 0, 0};
    c->n_places++;
    if (index_put(&c->place_index, i, h, c->n_places - 1) < 0)
        return (size_t)-1;
    return c->n_places - 1;
}

/* The number of the kind (verdict, reason), made on first sight; (size_t)-1 on error. */
static size_t
kind_of(Counting *c, const char *verdict, size_t verdict_n, size_t reason_n)
{
    const char *p = verdict;
    size_t n = verdict_n + 1 + reason_n; /* verdict, its tab, reason */
    uint64_t h = hash_span(p, n);
    size_t i = index_start(&c->kind_index, h);
    for (Slot *slot; (slot = &c->kind_index.slots[i])->item != 0;
         i = (i + 1) & c->kind_index.mask) {
        Kind *k = &c->kinds[slot->item - 1];
        if (slot->hash == h && same(k->p, k->n, p, n))
            return slot->item - 1;
    }
    if (reserve((void **)&c->kinds, &c->cap_kinds, c->n_kinds, sizeof(Kind)) < 0)
        return (size_t)-1;
    PyObject *verdict_obj = string_of(c, verdict, verdict_n);
    PyObject *reason_obj = verdict_obj ? string_of(c, verdict + verdict_n + 1, reason_n) : NULL;
    if (reason_obj == NULL)
        return (size_t)-1;
    int human = verdict_n == 5 && memcmp(verdict, "human", 5) == 0;
    c->kinds[c->n_kinds] = (Kind){p, n, verdict_obj, reason_obj, human};
    c->n_kinds++;
    if (index_put(&c->kind_index, i, h, c->n_kinds - 1) < 0)
        return (size_t)-1;
    return c->n_kinds - 1;
}

/* The key (place, kind, day) of index/keys: its number, and *made = 1 when it is new (the
 * caller then sets its obj); (size_t)-1 on error. */
static size_t
key_of(Index *x, Key **keys, size_t *count, size_t *capacity, size_t place, size_t kind,
       long long day, int *made)
{
    uint64_t h = mix((uint64_t)place, (uint64_t)kind, (uint64_t)day);
    size_t i = index_start(x, h);
    for (Slot *slot; (slot = &x->slots[i])->item != 0; i = (i + 1) & x->mask) {
        Key *k = &(*keys)[slot->item - 1];
        if (slot->hash == h && k->place == place && k->kind == kind && k->day == day) {
            *made = 0;
            return slot->item - 1;
        }
    }
    if (reserve((void **)keys, capacity, *count, sizeof(Key)) < 0)
        return (size_t)-1;
    (*keys)[*count] = (Key){place, kind, day, NULL, 0};
    (*count)++;
    *made = 1;
    if (index_put(x, i, h, *count - 1) < 0)
        return (size_t)-1;
    return *count - 1;
}

/* ---- numbers ----------------------------------------------------------------------- */

/* CRC-32 of zlib (reflected polynomial 0xEDB88320), eight bytes a step: crc_table[0] is
 * the classic byte table, crc_table[k] the CRC of a byte followed by k zero bytes. */
static uint32_t crc_table[8][256];

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
}

static uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t
crc_of(const char *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t lo = c ^ le32(p), hi = le32(p + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
            crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
            crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
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

/* counts[key] = counts.get(key, 0) + n */
static int
add_count(PyObject *counts, PyObject *key, long long n)
{
    PyObject *value, *count = PyDict_GetItemWithError(counts, key);
    if (count == NULL) {
        if (PyErr_Occurred())
            return -1;
        value = PyLong_FromLongLong(n);
    }
    else {
        Py_INCREF(count); /* the dict could drop it while we add */
        int overflow = 1;
        long long v = PyLong_CheckExact(count) ? PyLong_AsLongLongAndOverflow(count, &overflow) : 0;
        if (!overflow && v <= LLONG_MAX - n)
            value = PyLong_FromLongLong(v + n);
        else {
            PyObject *more = PyLong_FromLongLong(n);
            value = more ? PyNumber_Add(count, more) : NULL;
            Py_XDECREF(more);
        }
        Py_DECREF(count);
    }
    if (value == NULL)
        return -1;
    int status = PyDict_SetItem(counts, key, value);
    Py_DECREF(value);
    return status;
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

/* The set of readers[place], made (and stored) when there is none: a new reference. */
static PyObject *
readers_at(PyObject *readers, PyObject *place)
{
    PyObject *seen = PyDict_GetItemWithError(readers, place);
    if (seen != NULL)
        return Py_NewRef(seen);
    if (PyErr_Occurred())
        return NULL;
    seen = PySet_New(NULL);
    if (seen != NULL && PyDict_SetItem(readers, place, seen) < 0)
        Py_CLEAR(seen);
    return seen;
}

/* if pair not in first: first[pair] = ts; last[pair] = ts */
static int
set_times(PyObject *first, PyObject *last, PyObject *pair, PyObject *ts)
{
    int known = PyDict_Contains(first, pair);
    if (known < 0 || (!known && PyDict_SetItem(first, pair, ts) < 0))
        return -1;
    return PyDict_SetItem(last, pair, ts);
}


static PyObject *
day_object(Counting *c, long long day)
{
    if (c->day_obj == NULL || c->day != day) {
        PyObject *made = PyLong_FromLongLong(day);
        if (made == NULL)
            return NULL;
        Py_XSETREF(c->day_obj, made);
        c->day = day;
    }
    return c->day_obj;
}

/* Count a line whose checks passed, with a time of 64 bits. 0 ok, -1 error. */
static int
count_hit(Counting *c, const char *field[7], const size_t len[7], long long ts)
{
    long long day = ts / DAY_MS - (ts % DAY_MS < 0); /* floor, as Python's // */
    size_t place = place_of(c, field[2], len[2], field[6], len[6]);
    if (place == (size_t)-1)
        return -1;
    size_t kind = kind_of(c, field[3], len[3], len[4]);
    if (kind == (size_t)-1)
        return -1;
    int made;

    /* counts[(story, page, day, verdict, reason)] += 1 */
    size_t key = key_of(&c->count_index, &c->count_keys, &c->n_count_keys, &c->cap_count_keys,
                        place, kind, day, &made);
    if (key == (size_t)-1)
        return -1;
    if (!made)
        c->count_keys[key].n++;
    else {
        Place *p = &c->places[place];
        Kind *k = &c->kinds[kind];
        PyObject *day_obj = day_object(c, day);
        PyObject *tuple =
            day_obj ? PyTuple_Pack(5, p->story_obj, p->page_obj, day_obj, k->verdict, k->reason)
                    : NULL;
        if (tuple == NULL)
            return -1; /* (the call fails: the key's obj stays NULL) */
        c->count_keys[key].obj = tuple;
        if (add_count(c->counts, tuple, 1) < 0)
            return -1;
    }
    if (!c->kinds[kind].human)
        return 0;

    if (len[5] > 0) {
        /* readers[(day, story, page)] gets the visitor */
        key = key_of(&c->reader_index, &c->reader_keys, &c->n_reader_keys, &c->cap_reader_keys,
                     place, 0, day, &made);
        if (key == (size_t)-1)
            return -1;
        if (made) {
            Place *p = &c->places[place];
            PyObject *day_obj = day_object(c, day);
            PyObject *where = day_obj ? PyTuple_Pack(3, day_obj, p->story_obj, p->page_obj) : NULL;
            PyObject *seen = where ? readers_at(c->readers, where) : NULL;
            Py_XDECREF(where);
            if (seen == NULL)
                return -1;
            c->reader_keys[key].obj = seen;
        }
        PyObject *visitor = PyBytes_FromStringAndSize(field[5], (Py_ssize_t)len[5]);
        if (visitor == NULL)
            return -1;
        int failed = add_to(c->reader_keys[key].obj, visitor) < 0;
        Py_DECREF(visitor);
        if (failed)
            return -1;
    }
    if (len[6] > 0) {
        /* first[(story, page)] (when new) and last[(story, page)] = ts */
        Place *p = &c->places[place];
        if (p->pair != NULL) {
            p->last = ts;
            p->pending = 1;
        }
        else {
            p->pair = PyTuple_Pack(2, p->story_obj, p->page_obj);
            if (p->pair == NULL)
                return -1;
            PyObject *ts_obj = PyLong_FromLongLong(ts);
            if (ts_obj == NULL)
                return -1;
            int status = set_times(c->first, c->last, p->pair, ts_obj);
            Py_DECREF(ts_obj);
            if (status < 0)
                return -1;
        }
    }
    return 0;
}

/* Count a line whose checks passed, with a time too big for 64 bits (only a damaged or
 * forged line has one): straight into the dicts, as the Python loop does. */
static int
count_hit_big(Counting *c, const char *field[7], const size_t len[7], PyObject *ts)
{
    PyObject *day = NULL, *key = NULL, *where = NULL, *seen = NULL, *visitor = NULL,
             *pair = NULL;
    int status = -1;
    size_t place = place_of(c, field[2], len[2], field[6], len[6]);
    size_t kind = place == (size_t)-1 ? place : kind_of(c, field[3], len[3], len[4]);
    if (kind == (size_t)-1)
        return -1;
    if (c->day_ms == NULL && (c->day_ms = PyLong_FromLongLong(DAY_MS)) == NULL)
        return -1;
    day = PyNumber_FloorDivide(ts, c->day_ms);
    if (day == NULL)
        return -1;
    Place *p = &c->places[place];
    Kind *k = &c->kinds[kind];
    key = PyTuple_Pack(5, p->story_obj, p->page_obj, day, k->verdict, k->reason);
    if (key == NULL || add_count(c->counts, key, 1) < 0)
        goto done;
    if (!k->human) {
        status = 0;
        goto done;
    }
    if (len[5] > 0) {
        where = PyTuple_Pack(3, day, p->story_obj, p->page_obj);
        seen = where ? readers_at(c->readers, where) : NULL;
        visitor = seen ? PyBytes_FromStringAndSize(field[5], (Py_ssize_t)len[5]) : NULL;
        if (visitor == NULL || add_to(seen, visitor) < 0)
            goto done;
    }
    if (len[6] > 0) {
        p->pending = 0; /* this time is now the last: one waiting from an earlier line is not */
        pair = PyTuple_Pack(2, p->story_obj, p->page_obj);
        if (pair == NULL || set_times(c->first, c->last, pair, ts) < 0)
            goto done;
    }
    status = 0;
done:
    Py_XDECREF(day);
    Py_XDECREF(key);
    Py_XDECREF(where);
    Py_XDECREF(seen);
    Py_XDECREF(visitor);
    Py_XDECREF(pair);
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
    if (n - tab != 8)
        return 0;
    int ok = crc_matches(line + tab, crc_of(body, body_len));
    if (ok <= 0)
        return ok;

    const char *field[7];
    size_t len[7];
    if (!split_fields(body, body_len, field, len))
        return 0;

    /* ts: plain ASCII digits are read here, anything else by int() */
    long long ts = 0;
    int plain = len[1] >= 1 && len[1] <= 18;
    for (size_t i = 0; plain && i < len[1]; i++) {
        char d = field[1][i];
        if (d < '0' || d > '9')
            plain = 0;
        else
            ts = ts * 10 + (d - '0');
    }
    PyObject *ts_obj = NULL;
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
        int overflow;
        ts = PyLong_AsLongLongAndOverflow(ts_obj, &overflow);
        if (ts == -1 && PyErr_Occurred()) {
            Py_DECREF(ts_obj);
            return -1;
        }
        if (!overflow)
            Py_CLEAR(ts_obj); /* 64 bits after all ("+12", " 12", "-5", "1_000") */
    }
    if (!(len[0] == 1 && field[0][0] == '1')) { /* republish.hits.FORMAT_VERSION */
        Py_XDECREF(ts_obj);
        return 0;
    }
    int status;
    if (ts_obj == NULL)
        status = count_hit(c, field, len, ts);
    else {
        status = count_hit_big(c, field, len, ts_obj);
        Py_DECREF(ts_obj);
    }
    return status < 0 ? -1 : 1;
}

/* What waits in the tables: hits to add to counts, the last times. */
static int
write_waiting(Counting *c)
{
    for (size_t i = 0; i < c->n_count_keys; i++) {
        Key *k = &c->count_keys[i];
        if (k->n > 0 && add_count(c->counts, k->obj, k->n) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->n_places; i++) {
        Place *p = &c->places[i];
        if (!p->pending)
            continue;
        PyObject *ts = PyLong_FromLongLong(p->last);
        if (ts == NULL)
            return -1;
        int status = PyDict_SetItem(c->last, p->pair, ts);
        Py_DECREF(ts);
        if (status < 0)
            return -1;
    }
    return 0;
}

static PyObject *
count_lines(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"data", "counts", "readers", "first", "last", NULL};
    Py_buffer data;
    Counting c = {0};
    /* Any bytes-like data; dicts (or subclasses, such as Counter) to count into. */
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*O!O!O!O!:count_lines", names, &data,
                                     &PyDict_Type, &c.counts, &PyDict_Type, &c.readers,
                                     &PyDict_Type, &c.first, &PyDict_Type, &c.last))
        return NULL;
    PyObject *result = NULL;
    const char *buf = data.buf;
    size_t size = (size_t)data.len;
    /* end = data.rfind(b"\n") + 1 */
    size_t end = size;
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    Py_ssize_t hits = 0, damaged = 0;
    /* No collections while counting: this makes no cycles (tuples of bytes and ints, sets
     * of bytes), and the tuples and sets it makes would each count towards one. */
    int collecting = PyGC_Disable();
    if (tables_init(&c) < 0)
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
    if (write_waiting(&c) < 0)
        goto done;
    result = Py_BuildValue("nnn", (Py_ssize_t)end, hits, damaged);
done:
    tables_free(&c);
    PyBuffer_Release(&data);
    if (collecting)
        PyGC_Enable();
    return result;
}

PyDoc_STRVAR(count_lines_doc,
             "count_lines(data, counts, readers, first, last) -> (end, hits, damaged)\n\n"
             "Check and count the complete lines of data into the dicts (counts a Counter);\n"
             "the same as republish.stats.linecount.count_lines_py, compiled.");

static PyMethodDef methods[] = {
    {"count_lines", (PyCFunction)(void (*)(void))count_lines, METH_VARARGS | METH_KEYWORDS,
     count_lines_doc},
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
    crc_init();
    return PyModuleDef_Init(&module);
}
