/* The pixel's compiled HTTP front: an epoll loop on one thread plus a group-commit thread.
 *
 * It does in C what republish/pixel/server.py does in Python, and writes byte-for-byte
 * the same log lines as republish/pixel/core.py (tests hold the two equal):
 *
 * - parses HTTP/1.0 and HTTP/1.1 request heads (strictly; what does not parse gets a 400,
 *   a head over MAX_HEAD bytes a 431, and the connection is closed; nothing is recorded);
 * - classifies the hit: the User-Agent's and the Referer's verdicts are cached here and
 *   worked out by the Python core on a miss (ua_facts, referer_facts); prefetch headers,
 *   the verdict and the keyed BLAKE2b visitor hash are computed here;
 * - appends the line to a batch; a second thread appends each batch to the segment
 *   Python's HitLog opened (write + fdatasync) while the loop keeps reading, and the
 *   answers of a batch are sent only once it is durable (group commit), in request order
 *   per connection;
 * - keep-alive, Connection: close, HTTP/1.0, pipelining, idle timeout, back-pressure,
 *   graceful stop (stop accepting, answer what is recorded, write the last batch).
 *
 * No IP address or User-Agent leaves this file except inside the visitor hash.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_HEAD 16384         /* request line and headers of one request (as server.py) */
#define READ_CAP (MAX_HEAD + 4096)
#define MAX_CACHED 2048        /* longer Referers and User-Agents are not cached (as core.py) */
#define CACHE_ENTRIES 4096
#define DURABLE_BUCKETS 24     /* batches by time to durable: [2^b, 2^(b+1)) µs, up to 16 s */
#define CACHE_SLOTS 8192
#define MAX_OWED 256           /* a connection with this many unanswered hits is not read */
#define MAX_OUT 65536          /* nor one whose unsent answers reach this many bytes */
#define DRAIN_S 10.0
#define MAX_EVENTS 256
#define N_REASONS 6
#define N_TEMPLATES (N_REASONS * 2 * 3)
#define DATE_LEN 29

#define TAG_LISTEN ((uint64_t)1 << 40)
#define TAG_SYNC (TAG_LISTEN + 1)
#define TAG_WAKE (TAG_LISTEN + 2)
#define TAG_STOP (TAG_LISTEN + 3)

/* Drop reasons, in the order of REASONS in republish/pixel/native.py. */
enum { R_NONE, R_BOT, R_NO_UA, R_PREFETCH, R_PREVIEW, R_MALFORMED };
static const char *REASON_TEXT[N_REASONS] = {
    "", "bot-user-agent", "no-user-agent", "prefetch", "cms-preview", "malformed"};
enum { V_HUMAN, V_BOT, V_PREFETCH, V_PREVIEW, V_UNKNOWN };
static const char *VERDICT_TEXT[] = {"human", "bot", "prefetch", "preview", "unknown"};
enum { C_DEFAULT, C_CLOSE, C_KEEP };

/* ---------------------------------------------------------------- CRC-32 (zlib's own) */

static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes an unsigned int length */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* ---------------------------------------------------------------- BLAKE2b (RFC 7693) */

typedef struct {
    uint64_t h[8], t[2];
    unsigned char b[128];
    size_t c, outlen;
} blake2b_state;

static const uint64_t B2_IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL,
    0xA54FF53A5F1D36F1ULL, 0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL,
    0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL};

static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR64(x, y) (((x) >> (y)) ^ ((x) << (64 - (y))))
#define B2_G(a, b, c, d, x, y)          \
    do {                                \
        v[a] = v[a] + v[b] + (x);       \
        v[d] = ROTR64(v[d] ^ v[a], 32); \
        v[c] = v[c] + v[d];             \
        v[b] = ROTR64(v[b] ^ v[c], 24); \
        v[a] = v[a] + v[b] + (y);       \
        v[d] = ROTR64(v[d] ^ v[a], 16); \
        v[c] = v[c] + v[d];             \
        v[b] = ROTR64(v[b] ^ v[c], 63); \
    } while (0)

static uint64_t load64(const unsigned char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
#endif
}

static void b2_compress(blake2b_state *s, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= s->t[0];
    v[13] ^= s->t[1];
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; i++) m[i] = load64(s->b + 8 * i);
    for (int i = 0; i < 12; i++) {
        const uint8_t *o = B2_SIGMA[i];
        B2_G(0, 4, 8, 12, m[o[0]], m[o[1]]);
        B2_G(1, 5, 9, 13, m[o[2]], m[o[3]]);
        B2_G(2, 6, 10, 14, m[o[4]], m[o[5]]);
        B2_G(3, 7, 11, 15, m[o[6]], m[o[7]]);
        B2_G(0, 5, 10, 15, m[o[8]], m[o[9]]);
        B2_G(1, 6, 11, 12, m[o[10]], m[o[11]]);
        B2_G(2, 7, 8, 13, m[o[12]], m[o[13]]);
        B2_G(3, 4, 9, 14, m[o[14]], m[o[15]]);
    }
    for (int i = 0; i < 8; i++) s->h[i] ^= v[i] ^ v[i + 8];
}

static void b2_update(blake2b_state *s, const unsigned char *in, size_t n) {
    while (n) {
        if (s->c == 128) { /* a full block is compressed only once more data follows */
            s->t[0] += s->c;
            if (s->t[0] < s->c) s->t[1]++;
            b2_compress(s, 0);
            s->c = 0;
        }
        size_t k = 128 - s->c < n ? 128 - s->c : n;
        memcpy(s->b + s->c, in, k);
        s->c += k;
        in += k;
        n -= k;
    }
}

/* Compress a buffered full block now (the key block of a keyed state that is always
 * followed by a message), so that each copy of the state does not do it again. */
static void b2_settle(blake2b_state *s) {
    if (s->c == 128) {
        s->t[0] += s->c;
        if (s->t[0] < s->c) s->t[1]++;
        b2_compress(s, 0);
        s->c = 0;
        memset(s->b, 0, sizeof s->b);
    }
}

static void b2_init(blake2b_state *s, size_t outlen, const unsigned char *key, size_t keylen) {
    for (int i = 0; i < 8; i++) s->h[i] = B2_IV[i];
    s->h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ outlen;
    s->t[0] = s->t[1] = 0;
    s->c = 0;
    s->outlen = outlen;
    memset(s->b, 0, sizeof s->b);
    if (keylen > 0) {
        b2_update(s, key, keylen);
        s->c = 128; /* the key block is padded to a full block */
    }
}

static void b2_final(blake2b_state *s, unsigned char *out) {
    s->t[0] += s->c;
    if (s->t[0] < s->c) s->t[1]++;
    while (s->c < 128) s->b[s->c++] = 0;
    b2_compress(s, 1);
    for (size_t i = 0; i < s->outlen; i++) out[i] = (s->h[i >> 3] >> (8 * (i & 7))) & 0xFF;
}

/* ---------------------------------------------------------------- small helpers */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static int buf_reserve(buf_t *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(buf_t *b, const void *p, size_t n) {
    if (buf_reserve(b, n)) return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Python's str.strip() on a Latin-1 decoded value strips these. */
static int py_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 ||
           c == 0xA0;
}

static void strip(const unsigned char **p, size_t *n) {
    while (*n && py_space((*p)[0])) (*p)++, (*n)--;
    while (*n && py_space((*p)[*n - 1])) (*n)--;
}

static int eq_lower(const unsigned char *p, size_t n, const char *word) {
    size_t w = strlen(word);
    if (n != w) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != (unsigned char)word[i]) return 0;
    return 1;
}

static int contains_lower(const unsigned char *p, size_t n, const char *word) {
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++) {
        size_t k = 0;
        while (k < w && lower(p[i + k]) == (unsigned char)word[k]) k++;
        if (k == w) return 1;
    }
    return 0;
}

/* Latin-1 bytes as UTF-8 (what .decode("latin-1").encode() gives). */
static int add_latin1_as_utf8(buf_t *b, const unsigned char *p, size_t n) {
    if (buf_reserve(b, 2 * n)) return -1;
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            *o++ = (char)p[i];
        } else {
            *o++ = (char)(0xC0 | (p[i] >> 6));
            *o++ = (char)(0x80 | (p[i] & 0x3F));
        }
    }
    b->len = (size_t)(o - b->p);
    return 0;
}

/* The caches' hash: eight bytes at a time, multiply and fold (not keyed: a client can only
 * make its own lookups slower, and a table never holds more than CACHE_ENTRIES). */
static uint64_t key_hash(const unsigned char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

static double monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- verdict caches */

typedef struct {
    uint64_t hash;
    unsigned char *key; /* NULL: empty slot */
    size_t klen;
    int flag; /* UA: drop reason; Referer: CMS preview */
    unsigned char *val;
    size_t vlen;
} cache_entry;

typedef struct {
    cache_entry *slots;
    size_t used;
} cache_t;

static void cache_clear(cache_t *c) {
    if (!c->slots) return;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(c->slots[i].key);
        free(c->slots[i].val);
        c->slots[i].key = NULL;
        c->slots[i].val = NULL;
    }
    c->used = 0;
}

static cache_entry *cache_find(cache_t *c, const unsigned char *k, size_t n, uint64_t h) {
    size_t i = h & (CACHE_SLOTS - 1);
    for (;;) {
        cache_entry *e = &c->slots[i];
        if (!e->key) return e;
        if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0) return e;
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
}

/* ---------------------------------------------------------------- the server */

typedef struct {
    uint32_t fd, gen;
    uint16_t response; /* template index, or 0xFFFF for none */
} owed_t;

typedef struct {
    buf_t lines;
    owed_t *owed;
    size_t n_owed, cap_owed, n_lines;
} batch_t;

typedef struct conn {
    int fd;
    uint32_t gen;
    unsigned char *in;
    size_t in_len;
    size_t skip;       /* body bytes still to be skipped */
    buf_t out;         /* answers not yet taken by the socket */
    uint32_t owed;     /* hits recorded, not yet answered */
    int closing;       /* read no more requests */
    int last;          /* -1, or the error answer to send after the owed ones */
    int close_after;   /* close once `out` is sent */
    int peer_done;     /* the peer closed its sending side */
    uint32_t events;   /* what epoll watches */
    double active;
    char peer[INET6_ADDRSTRLEN];
    size_t peer_len;
    struct conn *dirty_next;
    int dirty;
} conn_t;

typedef struct {
    PyObject_HEAD
    /* configuration (Python objects owned) */
    PyObject *ua_facts, *referer_facts, *salt_for_day, *segment, *failed;
    unsigned char *templates[N_TEMPLATES];
    size_t template_len[N_TEMPLATES];
    size_t date_at[N_TEMPLATES];
    unsigned char *errors[2];
    size_t error_len[2];
    unsigned char ip_header[256];
    size_t ip_header_len;
    double idle_s;
    /* loop state */
    int ep, sync_fd, stop_fd, listen_fd, wake_fd;
    int running, stopping;
    conn_t **conns;
    size_t max_conns;
    int top_fd;
    size_t live;
    uint32_t gen;
    cache_t ua_cache, ref_cache;
    int64_t salt_day;
    blake2b_state keyed;
    int have_key;
    char date[64];
    time_t date_sec;
    /* group commit */
    batch_t batches[2];
    int filling;       /* index of the batch being filled */
    int busy;          /* the other batch is with the writer thread */
    pthread_t writer;
    int seg_fd, seg_sync;         /* the segment the writer appends to (owned by Python) */
    size_t seg_bytes, seg_lines;  /* written since Python last heard */
    size_t seg_room;              /* bytes of zeros ahead of the data when Python was asked */
    double seg_asked;             /* when Python was last asked for the segment */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int writer_has_work, writer_quit, writer_started;
    PyObject *err_type, *err_value, *err_tb; /* raised by serve() once stopped */
    PyThreadState *save;
    unsigned long long requests, bad_requests;
    /* Batches made durable, by how long that took: bucket b counts [2^b, 2^(b+1)) µs, the
     * last one everything longer. Written by the writer thread, read by durable_times(). */
    unsigned long long durable_us[DURABLE_BUCKETS];
} Server;

/* The loop runs without the GIL; it takes it only to call into Python. */
#define GIL_TAKE(s) PyEval_RestoreThread((s)->save)
#define GIL_DROP(s) ((s)->save = PyEval_SaveThread())

static void stash_error(Server *s) {
    /* With the GIL held: keep the first error for serve()'s caller, report the others. */
    if (s->err_type == NULL) {
        PyErr_Fetch(&s->err_type, &s->err_value, &s->err_tb);
    } else {
        PyErr_WriteUnraisable(NULL);
    }
}

static int epoll_set(Server *s, conn_t *c, uint32_t events) {
    if (c->events == events) return 0;
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)c->fd};
    c->events = events;
    return epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(Server *s, conn_t *c) {
    close(c->fd); /* also leaves the epoll set: the descriptor is not shared */
    s->conns[c->fd] = NULL;
    s->live--;
    free(c->in);
    free(c->out.p);
    c->in = NULL;
    c->out.p = NULL;
    if (!c->dirty) free(c); /* a dirty one is freed when the dirty list is walked */
    else c->fd = -1;
}

/* Whether the connection may read: not closing, few owed answers, little unsent output. */
static void conn_update_events(Server *s, conn_t *c) {
    uint32_t ev = 0;
    /* A closing connection keeps EPOLLIN until its peer closes: what it sends is read and
     * dropped (no epoll_ctl for the usual Connection: close request). */
    if (c->closing ? !c->peer_done : (c->owed < MAX_OWED && c->out.len < MAX_OUT)) ev |= EPOLLIN;
    if (c->out.len) ev |= EPOLLOUT;
    epoll_set(s, c, ev);
}

/* Send what is buffered; returns -1 if the connection was closed. */
static int conn_flush(Server *s, conn_t *c) {
    while (c->out.len) {
        ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            conn_close(s, c);
            return -1;
        }
        memmove(c->out.p, c->out.p + n, c->out.len - (size_t)n);
        c->out.len -= (size_t)n;
    }
    if (!c->out.len && c->close_after) {
        conn_close(s, c);
        return -1;
    }
    conn_update_events(s, c);
    return 0;
}

/* Read no more; send `last` after what is owed, then close. */
static int conn_finish(Server *s, conn_t *c, int last) {
    c->closing = 1;
    if (c->owed) {
        c->last = last;
        conn_update_events(s, c);
        return 0;
    }
    if (last >= 0) buf_add(&c->out, s->errors[last], s->error_len[last]);
    c->close_after = 1;
    return conn_flush(s, c);
}

/* ---------------------------------------------------------------- per-hit work */

static int call_facts(Server *s, PyObject *fn, const unsigned char *k, size_t n, int *flag,
                      unsigned char **val, size_t *vlen) {
    /* With the GIL held. New reference results copied into malloc'd memory. */
    PyObject *r = PyObject_CallFunction(fn, "y#", (const char *)k, (Py_ssize_t)n);
    if (!r) return -1;
    PyObject *first, *second;
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "facts callback must return a 2-tuple");
        return -1;
    }
    first = PyTuple_GET_ITEM(r, 0);
    second = PyTuple_GET_ITEM(r, 1);
    /* UA: (int reason, bytes ua); Referer: (bytes page, bool preview) */
    PyObject *bytes_obj = PyBytes_Check(first) ? first : second;
    PyObject *flag_obj = PyBytes_Check(first) ? second : first;
    if (!PyBytes_Check(bytes_obj)) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "facts callback must return bytes");
        return -1;
    }
    long f = PyLong_AsLong(flag_obj);
    if (f == -1 && PyErr_Occurred()) {
        Py_DECREF(r);
        return -1;
    }
    *flag = (int)f;
    *vlen = (size_t)PyBytes_GET_SIZE(bytes_obj);
    *val = malloc(*vlen ? *vlen : 1);
    if (!*val) {
        Py_DECREF(r);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(*val, PyBytes_AS_STRING(bytes_obj), *vlen);
    Py_DECREF(r);
    return 0;
}

/* The cached facts for a key, worked out by Python on a miss. Returns -1 on a Python error
 * (stashed). `*owned` is set when the value is not in the cache and must be freed. */
static int facts(Server *s, cache_t *cache, PyObject *fn, const unsigned char *k, size_t n,
                 int *flag, const unsigned char **val, size_t *vlen, unsigned char **owned) {
    *owned = NULL;
    uint64_t h = 0;
    cache_entry *e = NULL;
    if (n <= MAX_CACHED) {
        h = key_hash(k, n);
        e = cache_find(cache, k, n, h);
        if (e->key) {
            *flag = e->flag;
            *val = e->val;
            *vlen = e->vlen;
            return 0;
        }
    }
    unsigned char *v = NULL;
    size_t vl = 0;
    int fl = 0;
    GIL_TAKE(s);
    int rc = call_facts(s, fn, k, n, &fl, &v, &vl);
    if (rc < 0) stash_error(s);
    GIL_DROP(s);
    if (rc < 0) return -1;
    *flag = fl;
    *val = v;
    *vlen = vl;
    if (e == NULL) {
        *owned = v;
        return 0;
    }
    if (cache->used >= CACHE_ENTRIES) {
        cache_clear(cache);
        e = cache_find(cache, k, n, h);
    }
    e->key = malloc(n ? n : 1);
    if (!e->key) {
        *owned = v;
        return 0;
    }
    memcpy(e->key, k, n);
    e->klen = n;
    e->hash = h;
    e->flag = fl;
    e->val = v;
    e->vlen = vl;
    cache->used++;
    return 0;
}

/* ---------------------------------------------------------------- HTTP request heads */

enum { H_UA, H_REFERER, H_SEC_PURPOSE, H_PURPOSE, H_XMOZ, H_CONNECTION, H_CLEN, H_TE,
       H_UPGRADE, H_IP, N_FIELDS };
static const char *FIELD_NAMES[N_FIELDS - 1] = {
    "user-agent", "referer", "sec-purpose", "purpose", "x-moz", "connection",
    "content-length", "transfer-encoding", "upgrade"};
static size_t FIELD_LENS[N_FIELDS - 1];

typedef struct {
    const unsigned char *p;
    size_t n;
    int count;
} field_t;

typedef struct {
    const unsigned char *method, *target;
    size_t method_len, target_len, head_len;
    int minor;
    field_t f[N_FIELDS];
} request_t;

static unsigned char TCHAR[256]; /* RFC 9110 token characters; filled at import */

static void tchar_init(void) {
    for (int c = 0; c < 256; c++)
        TCHAR[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

#define is_tchar(c) (TCHAR[(unsigned char)(c)])

#define PARSE_MORE 0
#define PARSE_OK 1
#define PARSE_BAD (-1)
#define PARSE_TOO_LARGE (-2)

static const char *METHODS[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
                                "TRACE", NULL};

/* Parse one request head at the start of p[0..n). */
static int parse_head(Server *s, const unsigned char *p, size_t n, request_t *r) {
    memset(r, 0, sizeof *r);
    size_t i = 0;
    while (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n') i += 2; /* empty lines before */
    size_t line = i;
    int first = 1;
    for (;;) {
        const unsigned char *nl = memchr(p + line, '\n', n - line);
        if (!nl) return n > MAX_HEAD ? PARSE_TOO_LARGE : PARSE_MORE;
        size_t end = (size_t)(nl - p);
        if (end + 1 > MAX_HEAD) return PARSE_TOO_LARGE;
        if (end == line || p[end - 1] != '\r') return PARSE_BAD; /* lines end in CRLF */
        size_t stop = end - 1;
        const unsigned char *q = p + line;
        size_t len = stop - line;
        if (first) {
            size_t k = 0;
            while (k < len && is_tchar(q[k])) k++;
            if (k == 0 || k >= len || q[k] != ' ') return PARSE_BAD;
            r->method = q;
            r->method_len = k;
            size_t t = ++k;
            while (k < len && q[k] > 0x20 && q[k] != 0x7F) k++;
            if (k == t || k >= len || q[k] != ' ') return PARSE_BAD;
            r->target = q + t;
            r->target_len = k - t;
            k++;
            if (len - k != 8 || memcmp(q + k, "HTTP/1.", 7) != 0) return PARSE_BAD;
            if (q[k + 7] == '1') r->minor = 1;
            else if (q[k + 7] == '0') r->minor = 0;
            else return PARSE_BAD;
            int known = 0;
            for (const char **m = METHODS; *m; m++)
                if (strlen(*m) == r->method_len && memcmp(*m, r->method, r->method_len) == 0)
                    known = 1;
            if (!known) return PARSE_BAD;
            first = 0;
        } else if (len == 0) {
            r->head_len = end + 1;
            return PARSE_OK;
        } else {
            size_t k = 0;
            while (k < len && is_tchar(q[k])) k++;
            if (k == 0 || k >= len || q[k] != ':') return PARSE_BAD; /* also obs-fold */
            size_t name_len = k++;
            for (size_t j = k; j < len; j++)
                if ((q[j] < 0x20 && q[j] != '\t') || q[j] == 0x7F) return PARSE_BAD;
            while (k < len && (q[k] == ' ' || q[k] == '\t')) k++;
            size_t vend = len;
            while (vend > k && (q[vend - 1] == ' ' || q[vend - 1] == '\t')) vend--;
            int which = -1;
            for (int h = 0; h < N_FIELDS - 1; h++) {
                size_t w = FIELD_LENS[h];
                if (w == name_len && lower(q[0]) == (unsigned char)FIELD_NAMES[h][0]) {
                    size_t j = 0;
                    while (j < w && lower(q[j]) == (unsigned char)FIELD_NAMES[h][j]) j++;
                    if (j == w) {
                        which = h;
                        break;
                    }
                }
            }
            if (which < 0 && s->ip_header_len == name_len) {
                size_t j = 0;
                while (j < name_len && lower(q[j]) == s->ip_header[j]) j++;
                if (j == name_len) which = H_IP;
            }
            if (which >= 0) { /* the last one counts, as in a dict */
                r->f[which].p = q + k;
                r->f[which].n = vend - k;
                r->f[which].count++;
            }
        }
        line = end + 1;
    }
}

/* Whether a comma-separated header value has `token` (case-insensitive). */
static int has_token(const field_t *f, const char *token) {
    size_t i = 0;
    while (i < f->n) {
        while (i < f->n && (f->p[i] == ' ' || f->p[i] == '\t' || f->p[i] == ',')) i++;
        size_t start = i;
        while (i < f->n && f->p[i] != ',') i++;
        size_t end = i;
        while (end > start && (f->p[end - 1] == ' ' || f->p[end - 1] == '\t')) end--;
        if (eq_lower(f->p + start, end - start, token)) return 1;
    }
    return 0;
}

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int unhex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The story id of a request target "/p/{id}.gif" ([0-9a-z]{1,32}), read as server.py's
 * _path and core.py's STORY_PATH do: absolute form allowed, query dropped, percent-decoded.
 * Returns its length (0: not a story path). */
static size_t story_of(const unsigned char *t, size_t n, unsigned char story[32]) {
    if (n == 0) return 0;
    if (t[0] != '/') { /* absolute form: scheme://authority/path */
        size_t k = 0;
        while (k < n && (is_alpha(t[k]) || (t[k] >= '0' && t[k] <= '9') || t[k] == '+' ||
                         t[k] == '-' || t[k] == '.'))
            k++;
        if (k == 0 || !is_alpha(t[0]) || n - k < 3 || memcmp(t + k, "://", 3) != 0) return 0;
        k += 3;
        while (k < n && t[k] != '/' && t[k] != '?' && t[k] != '#') k++;
        if (k >= n || t[k] != '/') return 0;
        size_t e = k;
        while (e < n && t[e] != '?' && t[e] != '#') e++;
        t += k;
        n = e - k;
    } else {
        const unsigned char *q = memchr(t, '?', n);
        if (q) n = (size_t)(q - t);
    }
    unsigned char path[48];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m >= sizeof path) return 0;
        if (t[i] == '%' && i + 2 < n && unhex(t[i + 1]) >= 0 && unhex(t[i + 2]) >= 0) {
            path[m++] = (unsigned char)(unhex(t[i + 1]) * 16 + unhex(t[i + 2]));
            i += 2;
        } else {
            path[m++] = t[i];
        }
    }
    if (m < 3 + 1 + 4 || memcmp(path, "/p/", 3) != 0 || memcmp(path + m - 4, ".gif", 4) != 0)
        return 0;
    size_t len = m - 7;
    if (len < 1 || len > 32) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = path[3 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return 0;
        story[i] = c;
    }
    return len;
}

static int is_prefetch(const request_t *r) {
    const field_t *sp = &r->f[H_SEC_PURPOSE], *pu = &r->f[H_PURPOSE], *xm = &r->f[H_XMOZ];
    if (contains_lower(sp->p, sp->n, "prefetch") || contains_lower(sp->p, sp->n, "prerender"))
        return 1;
    const unsigned char *p = pu->p;
    size_t n = pu->n;
    strip(&p, &n);
    if (eq_lower(p, n, "prefetch")) return 1;
    p = xm->p;
    n = xm->n;
    strip(&p, &n);
    return eq_lower(p, n, "prefetch");
}

static int ensure_key(Server *s, int64_t day) {
    if (s->have_key && s->salt_day == day) return 0;
    GIL_TAKE(s);
    int rc = -1;
    PyObject *salt = PyObject_CallFunction(s->salt_for_day, "L", (long long)day);
    if (salt && PyBytes_Check(salt) && PyBytes_GET_SIZE(salt) <= 64) {
        b2_init(&s->keyed, 16, (const unsigned char *)PyBytes_AS_STRING(salt),
                (size_t)PyBytes_GET_SIZE(salt));
        b2_settle(&s->keyed); /* every message is at least two NULs long */
        s->salt_day = day;
        s->have_key = 1;
        rc = 0;
    } else if (salt) {
        PyErr_SetString(PyExc_ValueError, "salt_for_day must return at most 64 bytes");
    }
    Py_XDECREF(salt);
    if (rc < 0) stash_error(s);
    GIL_DROP(s);
    return rc;
}

static const char HEX[] = "0123456789abcdef";

/* Classify the request, append its log line to the filling batch. Returns the drop reason,
 * or -1 when no line could be made (a Python callback failed; reported). */
static int record_hit(Server *s, conn_t *c, const request_t *r) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ts_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    const unsigned char *page = (const unsigned char *)"";
    size_t page_len = 0;
    int preview = 0;
    unsigned char *owned_page = NULL, *owned_ua = NULL;
    int result = -1;
    if (r->f[H_REFERER].n) {
        if (facts(s, &s->ref_cache, s->referer_facts, r->f[H_REFERER].p, r->f[H_REFERER].n,
                  &preview, &page, &page_len, &owned_page) < 0)
            return -1;
    }
    unsigned char story[32];
    size_t story_len = story_of(r->target, r->target_len, story);
    int verdict, reason;
    const unsigned char *ua = (const unsigned char *)"";
    size_t ua_len = 0;
    if (story_len == 0) {
        verdict = V_UNKNOWN;
        reason = R_MALFORMED;
    } else {
        int ua_reason = 0;
        if (facts(s, &s->ua_cache, s->ua_facts, r->f[H_UA].p ? r->f[H_UA].p : ua,
                  r->f[H_UA].n, &ua_reason, &ua, &ua_len, &owned_ua) < 0)
            goto done;
        if (ua_reason < 0 || ua_reason >= N_REASONS) ua_reason = R_BOT;
        if (ua_reason != R_NONE) {
            verdict = V_BOT;
            reason = ua_reason;
        } else if ((r->f[H_SEC_PURPOSE].count || r->f[H_PURPOSE].count || r->f[H_XMOZ].count) &&
                   is_prefetch(r)) {
            verdict = V_PREFETCH;
            reason = R_PREFETCH;
        } else if (preview) {
            verdict = V_PREVIEW;
            reason = R_PREVIEW;
        } else {
            verdict = V_HUMAN;
            reason = R_NONE;
        }
    }
    char visitor[33] = "";
    if (verdict == V_HUMAN) {
        if (ensure_key(s, (int64_t)(now.tv_sec / 86400)) < 0) goto done;
        blake2b_state h = s->keyed;
        const field_t *ip = &r->f[H_IP];
        if (s->ip_header_len && ip->n) {
            const unsigned char *v = ip->p;
            size_t n = ip->n;
            for (size_t k = n; k > 0; k--)
                if (v[k - 1] == ',') {
                    v += k;
                    n -= k;
                    break;
                }
            strip(&v, &n);
            unsigned char tmp[512];
            buf_t b = {(char *)tmp, 0, 0};
            if (n <= sizeof tmp / 2) {
                b.cap = sizeof tmp;
                add_latin1_as_utf8(&b, v, n);
                b2_update(&h, tmp, b.len);
            } else {
                buf_t heap = {NULL, 0, 0};
                if (add_latin1_as_utf8(&heap, v, n) == 0) b2_update(&h, (unsigned char *)heap.p, heap.len);
                free(heap.p);
            }
        } else {
            b2_update(&h, (const unsigned char *)c->peer, c->peer_len);
        }
        b2_update(&h, (const unsigned char *)"", 1);
        b2_update(&h, ua, ua_len);
        b2_update(&h, (const unsigned char *)"", 1);
        b2_update(&h, story, story_len);
        unsigned char digest[16];
        b2_final(&h, digest);
        for (int k = 0; k < 16; k++) {
            visitor[2 * k] = HEX[digest[k] >> 4];
            visitor[2 * k + 1] = HEX[digest[k] & 15];
        }
        visitor[32] = 0;
    }
    batch_t *b = &s->batches[s->filling];
    size_t start = b->lines.len;
    char head[32];
    int hn = 0;
    head[hn++] = '1';
    head[hn++] = '\t';
    {
        char digits[24];
        int d = 0;
        unsigned long long v = ts_ms < 0 ? 0 : (unsigned long long)ts_ms;
        do {
            digits[d++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (d) head[hn++] = digits[--d];
    }
    head[hn++] = '\t';
    const char *vt = VERDICT_TEXT[verdict], *rt = REASON_TEXT[reason];
    size_t vt_len = strlen(vt), rt_len = strlen(rt), visitor_len = verdict == V_HUMAN ? 32 : 0;
    size_t need = (size_t)hn + story_len + vt_len + rt_len + 32 + page_len + 16;
    if (buf_reserve(&b->lines, need)) goto done;
    buf_add(&b->lines, head, (size_t)hn);
    buf_add(&b->lines, story, story_len);
    buf_add(&b->lines, "\t", 1);
    buf_add(&b->lines, vt, vt_len);
    buf_add(&b->lines, "\t", 1);
    buf_add(&b->lines, rt, rt_len);
    buf_add(&b->lines, "\t", 1);
    buf_add(&b->lines, visitor, visitor_len);
    buf_add(&b->lines, "\t", 1);
    buf_add(&b->lines, page, page_len);
    uint32_t crc = crc32_of((unsigned char *)b->lines.p + start, b->lines.len - start);
    char tail[10];
    int tn = 0;
    tail[tn++] = '\t';
    for (int k = 28; k >= 0; k -= 4) tail[tn++] = HEX[(crc >> k) & 15];
    tail[tn++] = '\n';
    buf_add(&b->lines, tail, (size_t)tn);
    b->n_lines++;
    result = reason;
done:
    free(owned_page);
    free(owned_ua);
    return result;
}

/* ---------------------------------------------------------------- connections */

static int queue_owed(Server *s, conn_t *c, int response) {
    batch_t *b = &s->batches[s->filling];
    if (b->n_owed == b->cap_owed) {
        size_t cap = b->cap_owed ? 2 * b->cap_owed : 1024;
        owed_t *o = realloc(b->owed, cap * sizeof *o);
        if (!o) return -1;
        b->owed = o;
        b->cap_owed = cap;
    }
    b->owed[b->n_owed++] = (owed_t){(uint32_t)c->fd, c->gen, (uint16_t)response};
    c->owed++;
    return 0;
}

/* Parse and record every complete request in the connection's input. */
static int conn_process(Server *s, conn_t *c) {
    size_t used = 0;
    while (!c->closing) {
        if (c->skip) {
            size_t k = c->in_len - used < c->skip ? c->in_len - used : c->skip;
            used += k;
            c->skip -= k;
            if (c->skip) break;
        }
        if (used == c->in_len) break;
        if (c->owed >= MAX_OWED) break; /* read on once answers went out */
        request_t r;
        int rc = parse_head(s, c->in + used, c->in_len - used, &r);
        if (rc == PARSE_MORE) break;
        if (rc < 0) {
            s->bad_requests++;
            c->in_len = 0;
            return conn_finish(s, c, rc == PARSE_TOO_LARGE ? 1 : 0);
        }
        unsigned long long body = 0;
        if (r.f[H_TE].count || r.f[H_CLEN].count > 1) rc = PARSE_BAD;
        else if (r.f[H_CLEN].count) {
            if (r.f[H_CLEN].n == 0 || r.f[H_CLEN].n > 15) rc = PARSE_BAD;
            for (size_t k = 0; k < r.f[H_CLEN].n && rc != PARSE_BAD; k++) {
                unsigned char d = r.f[H_CLEN].p[k];
                if (d < '0' || d > '9') rc = PARSE_BAD;
                else body = body * 10 + (d - '0');
            }
        }
        if (rc == PARSE_BAD) {
            s->bad_requests++;
            c->in_len = 0;
            return conn_finish(s, c, 0);
        }
        s->requests++;
        int keep = r.minor == 1 ? !has_token(&r.f[H_CONNECTION], "close")
                                : has_token(&r.f[H_CONNECTION], "keep-alive");
        int mode = keep ? C_DEFAULT : C_CLOSE;
        if (r.f[H_CONNECTION].count) {
            if (r.f[H_UPGRADE].count && has_token(&r.f[H_CONNECTION], "upgrade")) {
                keep = 0;
                mode = C_CLOSE;
            } else if (keep && contains_lower(r.f[H_CONNECTION].p, r.f[H_CONNECTION].n,
                                              "keep-alive")) {
                mode = C_KEEP;
            }
        }
        int reason = record_hit(s, c, &r);
        if (reason < 0) reason = R_NONE; /* the pixel always answers; the failure is reported */
        int head = r.method_len == 4 && memcmp(r.method, "HEAD", 4) == 0;
        if (queue_owed(s, c, (reason * 2 + head) * 3 + mode) < 0) {
            conn_close(s, c);
            return -1;
        }
        used += r.head_len;
        c->skip = (size_t)body;
        if (!keep) c->closing = 1;
    }
    if (c->closing) used = c->in_len; /* what follows a last request is ignored */
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    conn_update_events(s, c);
    return 0;
}

static void conn_readable(Server *s, conn_t *c) {
    if (c->closing) { /* read and drop; at the peer's close, stop reading, still answer */
        char sink[4096];
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n == 0) {
            c->peer_done = 1;
            if (c->owed == 0 && c->out.len == 0) conn_close(s, c);
            else conn_update_events(s, c);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_close(s, c); /* reset: the answers cannot be delivered */
        }
        return;
    }
    if (c->in_len >= READ_CAP) { /* cannot happen (a longer head gets a 431); be sure */
        conn_finish(s, c, 1);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, READ_CAP - c->in_len, 0);
    if (n == 0) { /* the client is done sending: answer what it asked, then close */
        c->in_len = 0;
        c->peer_done = 1;
        conn_finish(s, c, -1);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) conn_close(s, c);
        return;
    }
    c->in_len += (size_t)n;
    c->active = monotonic_s();
    conn_process(s, c);
}

static void accept_all(Server *s) {
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage addr;
        socklen_t alen = sizeof addr;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &alen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or an error the next round may not have */
        if ((size_t)fd >= s->max_conns) {
            close(fd);
            continue;
        }
        conn_t *c = calloc(1, sizeof *c);
        unsigned char *in = malloc(READ_CAP);
        if (!c || !in) {
            free(c);
            free(in);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->gen = ++s->gen;
        c->in = in;
        c->last = -1;
        c->active = monotonic_s();
        /* TCP_NODELAY comes from the listening socket (Linux copies it to accepted ones). */
        if (addr.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, c->peer, sizeof c->peer);
        } else if (addr.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, c->peer,
                      sizeof c->peer);
        }
        c->peer_len = strlen(c->peer);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
        c->events = EPOLLIN;
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c->in);
            free(c);
            close(fd);
            continue;
        }
        s->conns[fd] = c;
        s->live++;
        if (fd > s->top_fd) s->top_fd = fd;
    }
}

/* ---------------------------------------------------------------- group commit */

/* With the GIL: tell Python what was written since it last heard, and get the segment to
 * append to (Python seals and opens segments: names, rotation by size and age) and how far
 * it is zeroed ahead (Python writes the zeros; the writer asks again before passing them). */
static void ask_segment(Server *s) {
    PyObject *r = PyObject_CallFunction(s->segment, "nn", (Py_ssize_t)s->seg_bytes,
                                        (Py_ssize_t)s->seg_lines);
    int fd = -1, sync = 1;
    Py_ssize_t room = 0;
    if (r && PyArg_ParseTuple(r, "ipn", &fd, &sync, &room)) {
        s->seg_fd = fd;
        s->seg_sync = sync;
        s->seg_room = room > 0 ? (size_t)room : 0;
        s->seg_bytes = s->seg_lines = 0;
    } else {
        PyErr_WriteUnraisable(s->segment);
    }
    Py_XDECREF(r);
    s->seg_asked = monotonic_s();
}

#define SEGMENT_CHECK_BYTES (1u << 20) /* Python hears of the segment's growth this often */
#define SEGMENT_CHECK_S 1.0            /* or at least this often, while hits come in */

static void count_durable(Server *s, double seconds) {
    double us = seconds * 1e6;
    int bucket = 0;
    while (bucket < DURABLE_BUCKETS - 1 && us >= (double)(2ull << bucket)) bucket++;
    __atomic_fetch_add(&s->durable_us[bucket], 1, __ATOMIC_RELAXED);
}

/* Append a batch and make it durable (write + fdatasync). Returns 0, or an errno. */
static int write_batch(Server *s, batch_t *b) {
    if (s->seg_fd < 0 || s->seg_bytes >= SEGMENT_CHECK_BYTES ||
        s->seg_bytes + b->lines.len > s->seg_room ||
        monotonic_s() - s->seg_asked >= SEGMENT_CHECK_S) {
        PyGILState_STATE g = PyGILState_Ensure();
        ask_segment(s);
        PyGILState_Release(g);
    }
    if (s->seg_fd < 0) return EBADF;
    const char *p = b->lines.p;
    size_t left = b->lines.len;
    while (left) {
        ssize_t n = write(s->seg_fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += n;
        left -= (size_t)n;
    }
    if (s->seg_sync && fdatasync(s->seg_fd) < 0) return errno;
    s->seg_bytes += b->lines.len;
    s->seg_lines += b->n_lines;
    return 0;
}

static void *writer_main(void *arg) {
    Server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->writer_has_work && !s->writer_quit) pthread_cond_wait(&s->cv, &s->mu);
        if (!s->writer_has_work && s->writer_quit) break;
        batch_t *b = &s->batches[1 - s->filling];
        pthread_mutex_unlock(&s->mu);
        if (b->n_lines) {
            double started = monotonic_s();
            int error = write_batch(s, b);
            if (!error) count_durable(s, monotonic_s() - started);
            if (error) { /* reported; the answers still go out (the pixel always answers) */
                PyGILState_STATE g = PyGILState_Ensure();
                PyObject *r = PyObject_CallFunction(s->failed, "ns", (Py_ssize_t)b->n_lines,
                                                    strerror(error));
                if (!r) PyErr_WriteUnraisable(s->failed);
                Py_XDECREF(r);
                s->seg_fd = -1; /* ask again next time */
                PyGILState_Release(g);
            }
        }
        pthread_mutex_lock(&s->mu);
        s->writer_has_work = 0;
        uint64_t one = 1;
        if (write(s->sync_fd, &one, sizeof one) < 0) { /* cannot happen with an eventfd */
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (s->seg_lines) { /* Python's count of durable lines is complete after serve() */
        PyGILState_STATE g = PyGILState_Ensure();
        ask_segment(s);
        PyGILState_Release(g);
    }
    return NULL;
}

/* Hand the filling batch to the writer if it is idle and there is something to write. */
static void maybe_commit(Server *s) {
    batch_t *b = &s->batches[s->filling];
    if (s->busy || b->n_owed == 0) return;
    pthread_mutex_lock(&s->mu);
    s->filling = 1 - s->filling;
    s->writer_has_work = 1;
    s->busy = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The writer made a batch durable: send its answers, in order. */
static void answer_batch(Server *s) {
    batch_t *b = &s->batches[1 - s->filling];
    conn_t *dirty = NULL;
    for (size_t i = 0; i < b->n_owed; i++) {
        owed_t *o = &b->owed[i];
        conn_t *c = o->fd < s->max_conns ? s->conns[o->fd] : NULL;
        if (!c || c->gen != o->gen) continue; /* gone: the hit stays recorded */
        c->owed--;
        if (o->response < N_TEMPLATES)
            buf_add(&c->out, s->templates[o->response], s->template_len[o->response]);
        if (!c->dirty) {
            c->dirty = 1;
            c->dirty_next = dirty;
            dirty = c;
        }
    }
    b->n_owed = 0;
    b->n_lines = 0;
    b->lines.len = 0;
    s->busy = 0;
    while (dirty) {
        conn_t *c = dirty;
        dirty = c->dirty_next;
        c->dirty = 0;
        if (c->fd < 0) { /* closed meanwhile */
            free(c);
            continue;
        }
        if (c->closing && c->owed == 0) {
            if (c->last >= 0) buf_add(&c->out, s->errors[c->last], s->error_len[c->last]);
            c->close_after = 1;
        }
        if (conn_flush(s, c) < 0) continue;
        if (!c->closing && c->in_len) conn_process(s, c); /* requests held back by MAX_OWED */
    }
}

/* ---------------------------------------------------------------- the loop */

static const char *DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void refresh_date(Server *s) {
    time_t t = time(NULL);
    if (t == s->date_sec) return;
    s->date_sec = t;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", DAYS[tm.tm_wday],
             tm.tm_mday, MONTHS[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    for (int i = 0; i < N_TEMPLATES; i++)
        if (s->date_at[i]) memcpy(s->templates[i] + s->date_at[i], s->date, DATE_LEN);
}

static void begin_stop(Server *s) {
    if (s->stopping) return;
    s->stopping = 1;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
    for (int fd = 0; fd <= s->top_fd; fd++)
        if (s->conns[fd]) conn_finish(s, s->conns[fd], -1);
}

static void drain_fd(int fd) {
    char sink[64];
    while (read(fd, sink, sizeof sink) > 0) {
    }
}

static void run_loop(Server *s) {
    struct epoll_event events[MAX_EVENTS];
    double next_tick = monotonic_s() + 1.0, deadline = 0;
    for (;;) {
        double now = monotonic_s();
        int timeout = (int)((next_tick - now) * 1000) + 1;
        if (timeout < 0) timeout = 0;
        int n = epoll_wait(s->ep, events, MAX_EVENTS, s->stopping ? 10 : timeout);
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == TAG_LISTEN) {
                accept_all(s);
            } else if (tag == TAG_SYNC) {
                drain_fd(s->sync_fd);
                answer_batch(s);
            } else if (tag == TAG_STOP) {
                drain_fd(s->stop_fd);
                begin_stop(s);
            } else if (tag == TAG_WAKE) {
                drain_fd(s->wake_fd);
                GIL_TAKE(s);
                if (PyErr_CheckSignals() < 0) stash_error(s); /* e.g. KeyboardInterrupt */
                GIL_DROP(s);
                if (s->err_type) begin_stop(s);
            } else if (tag < s->max_conns) {
                conn_t *c = s->conns[tag];
                if (!c) continue;
                uint32_t ev = events[i].events;
                if (ev & (EPOLLHUP | EPOLLERR)) { /* reset or failed: nothing can be sent */
                    conn_close(s, c);
                    continue;
                }
                if (ev & EPOLLOUT) {
                    if (conn_flush(s, c) < 0) continue;
                }
                if (ev & EPOLLIN) conn_readable(s, c);
            }
        }
        maybe_commit(s);
        now = monotonic_s();
        if (now >= next_tick) {
            next_tick = now + 1.0;
            refresh_date(s);
            for (int fd = 0; fd <= s->top_fd; fd++) {
                conn_t *c = s->conns[fd];
                if (c && !c->owed && !c->closing && now - c->active > s->idle_s) conn_finish(s, c, -1);
            }
        }
        if (s->stopping) {
            if (deadline == 0) deadline = now + DRAIN_S;
            if (s->live == 0 && !s->busy && s->batches[s->filling].n_owed == 0) break;
            if (now > deadline && !s->busy) {
                for (int fd = 0; fd <= s->top_fd; fd++)
                    if (s->conns[fd]) conn_close(s, s->conns[fd]);
                if (s->batches[s->filling].n_owed == 0) break;
            }
        }
    }
}

/* ---------------------------------------------------------------- the Python type */

static int Server_init(Server *s, PyObject *args, PyObject *kw) {
    static char *names[] = {"templates",    "errors",  "client_ip_header", "ua_facts",
                            "referer_facts", "salt_for_day", "segment", "failed",
                            "idle_timeout",  NULL};
    PyObject *templates, *errors, *ua, *ref, *salt, *segment, *failed;
    Py_buffer ip;
    double idle = 5.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOy*OOOOO|d", names, &templates, &errors, &ip,
                                     &ua, &ref, &salt, &segment, &failed, &idle))
        return -1;
    if (!(idle > 0)) {
        PyBuffer_Release(&ip);
        PyErr_SetString(PyExc_ValueError, "idle_timeout must be positive");
        return -1;
    }
    s->idle_s = idle;
    if (ip.len >= (Py_ssize_t)sizeof s->ip_header) {
        PyBuffer_Release(&ip);
        PyErr_SetString(PyExc_ValueError, "client_ip_header is too long");
        return -1;
    }
    for (Py_ssize_t i = 0; i < ip.len; i++) s->ip_header[i] = lower(((unsigned char *)ip.buf)[i]);
    s->ip_header_len = (size_t)ip.len;
    PyBuffer_Release(&ip);
    if (!PyList_Check(templates) || PyList_GET_SIZE(templates) != N_TEMPLATES) {
        PyErr_Format(PyExc_ValueError, "templates must be a list of %d bytes", N_TEMPLATES);
        return -1;
    }
    if (!PyTuple_Check(errors) || PyTuple_GET_SIZE(errors) != 2) {
        PyErr_SetString(PyExc_ValueError, "errors must be (bad_request, too_large)");
        return -1;
    }
    for (int i = 0; i < N_TEMPLATES + 2; i++) {
        PyObject *b = i < N_TEMPLATES ? PyList_GET_ITEM(templates, i)
                                      : PyTuple_GET_ITEM(errors, i - N_TEMPLATES);
        if (!PyBytes_Check(b)) {
            PyErr_SetString(PyExc_TypeError, "answers must be bytes");
            return -1;
        }
        size_t n = (size_t)PyBytes_GET_SIZE(b);
        unsigned char *copy = malloc(n ? n : 1);
        if (!copy) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(copy, PyBytes_AS_STRING(b), n);
        if (i < N_TEMPLATES) {
            free(s->templates[i]);
            s->templates[i] = copy;
            s->template_len[i] = n;
            const char *d = memmem(copy, n, "\r\nDate: ", 8);
            s->date_at[i] = 0;
            if (d && (size_t)(d - (char *)copy) + 8 + DATE_LEN <= n)
                s->date_at[i] = (size_t)(d - (char *)copy) + 8;
        } else {
            free(s->errors[i - N_TEMPLATES]);
            s->errors[i - N_TEMPLATES] = copy;
            s->error_len[i - N_TEMPLATES] = n;
        }
    }
    PyObject *callables[5] = {ua, ref, salt, segment, failed};
    PyObject **slots[5] = {&s->ua_facts, &s->referer_facts, &s->salt_for_day, &s->segment,
                           &s->failed};
    for (int i = 0; i < 5; i++) {
        if (!PyCallable_Check(callables[i])) {
            PyErr_SetString(PyExc_TypeError, "callbacks must be callable");
            return -1;
        }
        Py_INCREF(callables[i]);
        Py_XSETREF(*slots[i], callables[i]);
    }
    if (s->stop_fd <= 0) {
        s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->stop_fd < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
    }
    return 0;
}

static PyObject *Server_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Server *s = (Server *)type->tp_alloc(type, 0);
    if (s) {
        s->ep = s->sync_fd = s->listen_fd = s->wake_fd = -1;
        s->stop_fd = -1;
    }
    return (PyObject *)s;
}

static void Server_dealloc(Server *s) {
    Py_XDECREF(s->ua_facts);
    Py_XDECREF(s->referer_facts);
    Py_XDECREF(s->salt_for_day);
    Py_XDECREF(s->segment);
    Py_XDECREF(s->failed);
    Py_XDECREF(s->err_type);
    Py_XDECREF(s->err_value);
    Py_XDECREF(s->err_tb);
    for (int i = 0; i < N_TEMPLATES; i++) free(s->templates[i]);
    free(s->errors[0]);
    free(s->errors[1]);
    if (s->stop_fd >= 0) close(s->stop_fd);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int add_fd(int ep, int fd, uint64_t tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static PyObject *Server_serve(Server *s, PyObject *args) {
    int listen_fd, wake_fd = -1;
    if (!PyArg_ParseTuple(args, "i|i", &listen_fd, &wake_fd)) return NULL;
    if (!s->segment) {
        PyErr_SetString(PyExc_RuntimeError, "server not initialised");
        return NULL;
    }
    if (s->running) {
        PyErr_SetString(PyExc_RuntimeError, "already serving");
        return NULL;
    }
    struct rlimit lim;
    size_t max_conns = 65536;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
        max_conns = lim.rlim_cur < (1u << 20) ? (size_t)lim.rlim_cur : (1u << 20);
    s->conns = calloc(max_conns, sizeof *s->conns);
    s->ua_cache.slots = calloc(CACHE_SLOTS, sizeof(cache_entry));
    s->ref_cache.slots = calloc(CACHE_SLOTS, sizeof(cache_entry));
    if (!s->conns || !s->ua_cache.slots || !s->ref_cache.slots) {
        free(s->conns);
        free(s->ua_cache.slots);
        free(s->ref_cache.slots);
        s->conns = NULL;
        s->ua_cache.slots = s->ref_cache.slots = NULL;
        return PyErr_NoMemory();
    }
    s->max_conns = max_conns;
    s->top_fd = -1;
    s->live = 0;
    s->listen_fd = listen_fd;
    s->wake_fd = wake_fd;
    s->stopping = s->busy = s->filling = 0;
    s->have_key = 0;
    s->date_sec = 0;
    s->seg_fd = -1;
    s->seg_sync = 1;
    s->seg_bytes = s->seg_lines = 0;
    s->seg_room = 0;
    s->seg_asked = 0;
    int one = 1; /* answers are whole writes: never wait for an ACK before sending one */
    setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->sync_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int failed = s->ep < 0 || s->sync_fd < 0 || add_fd(s->ep, listen_fd, TAG_LISTEN) < 0 ||
                 add_fd(s->ep, s->sync_fd, TAG_SYNC) < 0 || add_fd(s->ep, s->stop_fd, TAG_STOP) < 0 ||
                 (wake_fd >= 0 && add_fd(s->ep, wake_fd, TAG_WAKE) < 0);
    if (!failed) {
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->writer_has_work = s->writer_quit = 0;
        failed = pthread_create(&s->writer, NULL, writer_main, s) != 0;
    }
    if (failed) {
        PyErr_SetFromErrno(PyExc_OSError);
        if (s->ep >= 0) close(s->ep);
        if (s->sync_fd >= 0) close(s->sync_fd);
        s->ep = s->sync_fd = -1;
        free(s->conns);
        free(s->ua_cache.slots);
        free(s->ref_cache.slots);
        s->conns = NULL;
        s->ua_cache.slots = s->ref_cache.slots = NULL;
        return NULL;
    }
    s->running = 1;
    refresh_date(s);
    s->save = PyEval_SaveThread();
    run_loop(s);
    pthread_mutex_lock(&s->mu);
    s->writer_quit = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    PyEval_RestoreThread(s->save);
    Py_BEGIN_ALLOW_THREADS /* the writer may need the GIL for its last batch */
    pthread_join(s->writer, NULL);
    Py_END_ALLOW_THREADS
    s->running = 0;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    close(s->ep);
    close(s->sync_fd);
    s->ep = s->sync_fd = -1;
    for (int fd = 0; fd <= s->top_fd; fd++)
        if (s->conns[fd]) conn_close(s, s->conns[fd]);
    free(s->conns);
    s->conns = NULL;
    cache_clear(&s->ua_cache);
    cache_clear(&s->ref_cache);
    free(s->ua_cache.slots);
    free(s->ref_cache.slots);
    s->ua_cache.slots = s->ref_cache.slots = NULL;
    for (int i = 0; i < 2; i++) {
        free(s->batches[i].lines.p);
        free(s->batches[i].owed);
        memset(&s->batches[i], 0, sizeof s->batches[i]);
    }
    drain_fd(s->stop_fd);
    if (s->err_type) {
        PyErr_Restore(s->err_type, s->err_value, s->err_tb);
        s->err_type = s->err_value = s->err_tb = NULL;
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Server_stop(Server *s, PyObject *unused) {
    uint64_t one = 1;
    if (s->stop_fd >= 0 && write(s->stop_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyObject *Server_counts(Server *s, PyObject *unused) {
    return Py_BuildValue("(KK)", s->requests, s->bad_requests);
}

static PyObject *Server_durable_times(Server *s, PyObject *unused) {
    PyObject *t = PyTuple_New(DURABLE_BUCKETS);
    if (!t) return NULL;
    for (int i = 0; i < DURABLE_BUCKETS; i++) {
        PyObject *n = PyLong_FromUnsignedLongLong(
            __atomic_load_n(&s->durable_us[i], __ATOMIC_RELAXED));
        if (!n) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, n);
    }
    return t;
}

static PyMethodDef Server_methods[] = {
    {"serve", (PyCFunction)Server_serve, METH_VARARGS,
     "serve(listen_fd, wake_fd=-1): answer on the listening socket until stop()."},
    {"stop", (PyCFunction)Server_stop, METH_NOARGS,
     "Begin a graceful stop (from any thread or a signal handler)."},
    {"counts", (PyCFunction)Server_counts, METH_NOARGS,
     "(requests recorded, requests refused as bad) so far."},
    {"durable_times", (PyCFunction)Server_durable_times, METH_NOARGS,
     "Batches made durable so far, by time taken: item b counts [2**b, 2**(b+1)) µs (item 0 from 0, the last one up)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ServerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "republish.pixel._native.Server",
    .tp_basicsize = sizeof(Server),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The pixel's compiled HTTP front (see republish.pixel.native).",
    .tp_new = Server_new,
    .tp_init = (initproc)Server_init,
    .tp_dealloc = (destructor)Server_dealloc,
    .tp_methods = Server_methods,
};

static PyObject *visitor_hash(PyObject *m, PyObject *args) {
    Py_buffer key, msg;
    if (!PyArg_ParseTuple(args, "y*y*", &key, &msg)) return NULL;
    if (key.len > 64) {
        PyBuffer_Release(&key);
        PyBuffer_Release(&msg);
        PyErr_SetString(PyExc_ValueError, "key longer than 64 bytes");
        return NULL;
    }
    blake2b_state h;
    b2_init(&h, 16, key.buf, (size_t)key.len);
    b2_update(&h, msg.buf, (size_t)msg.len);
    unsigned char d[16];
    char hex[32];
    b2_final(&h, d);
    for (int k = 0; k < 16; k++) {
        hex[2 * k] = HEX[d[k] >> 4];
        hex[2 * k + 1] = HEX[d[k] & 15];
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&msg);
    return PyUnicode_FromStringAndSize(hex, 32);
}

static PyObject *crc32_py(PyObject *m, PyObject *arg) {
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    uint32_t c = crc32_of(b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef module_methods[] = {
    {"visitor_hash", visitor_hash, METH_VARARGS,
     "visitor_hash(key, message): keyed BLAKE2b, 16 bytes, hex (as hashlib's)."},
    {"crc32", crc32_py, METH_O, "CRC-32 of bytes (as zlib's)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "The pixel's compiled HTTP front.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    tchar_init();
    for (int h = 0; h < N_FIELDS - 1; h++) FIELD_LENS[h] = strlen(FIELD_NAMES[h]);
    if (PyType_Ready(&ServerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ServerType);
    if (PyModule_AddObject(m, "Server", (PyObject *)&ServerType) < 0) {
        Py_DECREF(&ServerType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "MAX_HEAD", MAX_HEAD);
    PyModule_AddIntConstant(m, "N_TEMPLATES", N_TEMPLATES);
    return m;
}
