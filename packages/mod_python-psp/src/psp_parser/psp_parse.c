/*
 * psp_parse.c - the PSP parser's driver: files, includes, errors.
 *
 * It reads each file whole (checking that it is UTF-8, dropping a BOM),
 * hands it to the flex scanner, collects the pieces the scanner finds and
 * passes them to the code generator.  The include directive scans the
 * included file in place, with the same generator state, so that its text
 * and code land at the indentation the including page has there.
 *
 * Every failure ends in psp_fail_*(), which records what went wrong and
 * longjmp()s back to psp_parse_file()/psp_parse_string(); those free every
 * source and scanner still open.  Nothing here touches a Python object.
 */
#include "psp_parser.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* ------------------------------------------------------------------ errors */

static char *
copy_string(const char *s)
{
    size_t n;
    char *copy;

    if (s == NULL)
        return NULL;
    n = strlen(s);
    copy = malloc(n + 1);
    if (copy != NULL)
        memcpy(copy, s, n + 1);
    return copy;
}

static PSP_NORETURN void
unwind(psp_parser *p)
{
    longjmp(*p->on_error, 1);
}

PSP_NORETURN void
psp_fail_nomem(psp_parser *p)
{
    p->error = PSP_ERR_NOMEM;
    unwind(p);
}

/* Line `line` of src (without its line end), as a new string. */
static char *
source_line(const psp_source *src, long line)
{
    const char *s = src->text, *end = src->text + src->len;
    long at = 1;
    size_t n = 0;
    char *copy;

    while (s < end && at < line) {
        if (*s == '\n' || (*s == '\r' && (s + 1 == end || s[1] != '\n')))
            at++;
        s++;
    }
    if (at != line)
        return NULL;
    while (s + n < end && s[n] != '\n' && s[n] != '\r')
        n++;
    copy = malloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

static PSP_NORETURN PSP_PRINTF(4, 0) void
fail_syntax_va(psp_parser *p, const psp_source *src, long line, const char *fmt, va_list ap)
{
    p->error = PSP_ERR_SYNTAX;
    vsnprintf(p->error_message, sizeof(p->error_message), fmt, ap);
    p->error_line = line;
    /* Copies fail only when memory is short; the message is enough then. */
    p->error_path = copy_string(src->path);
    p->error_text = line > 0 ? source_line(src, line) : NULL;
    unwind(p);
}

static PSP_NORETURN PSP_PRINTF(4, 5) void
fail_syntax_at(psp_parser *p, const psp_source *src, long line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_syntax_va(p, src, line, fmt, ap);
}

PSP_NORETURN void
psp_fail_syntax(psp_parser *p, long line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_syntax_va(p, p->stack[p->depth - 1], line, fmt, ap);
}

/* A file could not be read; includer is the source that includes it, if any. */
static PSP_NORETURN void
fail_os(psp_parser *p, int err, const char *path, const psp_source *includer, long line)
{
    p->error = PSP_ERR_OS;
    p->error_errno = err;
    p->error_path = copy_string(path);
    if (includer != NULL)
        snprintf(p->error_message, sizeof(p->error_message), "included from %s, line %ld",
                 includer->path ? includer->path : "<string>", line);
    unwind(p);
}

PSP_NORETURN void
psp_on_scanner_fatal(psp_parser *p, const char *msg)
{
    (void)msg; /* flex's only fatal errors left are failed allocations */
    psp_fail_nomem(p);
}

/* ----------------------------------------------------------------- sources */

/* The offset of the first byte that is not valid UTF-8 (as Python's strict
 * decoder sees it: no overlong forms, no surrogates), or n. */
static size_t
invalid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        }
        else
            return i;
        if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return i;
        i += need + 1;
    }
    return n;
}

static void
check_utf8(psp_parser *p, psp_source *src)
{
    size_t bad = invalid_utf8((const unsigned char *)src->text, src->len);
    long line = 1;

    if (bad == src->len)
        return;
    for (size_t i = 0; i < bad; i++)
        if (src->text[i] == '\n' || (src->text[i] == '\r' && src->text[i + 1] != '\n'))
            line++;
    fail_syntax_at(p, src, line, "invalid UTF-8 (byte 0x%02x): PSP pages must be UTF-8",
                   (unsigned char)src->text[bad]);
}

/* Push a new, empty source on the stack (so that a failure frees it). */
static psp_source *
push_source(psp_parser *p)
{
    psp_source *src = calloc(1, sizeof(psp_source));

    if (src == NULL)
        psp_fail_nomem(p);
    p->stack[p->depth++] = src;
    src->line = 1;
    src->base = p->phys - 1; /* its line 1 is the current generated line */
    return src;
}

static void
free_source(psp_source *src)
{
    if (src->scanner != NULL)
        psp_scan_destroy(src->scanner);
    free(src->path);
    free(src->dir);
    free(src->owned);
    free(src);
}

static void
pop_source(psp_parser *p)
{
    free_source(p->stack[--p->depth]);
}

/* Remember a source for the caller (file name, time and size as read). */
static void
record_source(psp_parser *p, psp_source *src, const struct stat *st)
{
    psp_source_info *info;

    if (p->nsources == p->capsources) {
        size_t cap = p->capsources ? p->capsources * 2 : 8;
        psp_source_info *sources = realloc(p->sources, cap * sizeof(psp_source_info));

        if (sources == NULL)
            psp_fail_nomem(p);
        p->sources = sources;
        p->capsources = cap;
    }
    info = &p->sources[p->nsources];
    memset(info, 0, sizeof(*info));
    info->mtime_ns = -1;
    info->size = -1;
    if (src->path != NULL) {
        info->path = copy_string(src->path);
        if (info->path == NULL)
            psp_fail_nomem(p);
    }
    if (st != NULL) {
        info->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
        info->size = (int64_t)st->st_size;
    }
    src->index = (int)p->nsources++;
}

/* The directory part of path, with its final '/' ("" for a bare name). */
static char *
directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    char *dir = malloc(n + 1);

    if (dir != NULL) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* The loop the stack would make if src were included, as "a -> b -> a". */
static void
describe_loop(psp_parser *p, psp_buf *out, int from)
{
    int i;

    for (i = from; i < p->depth; i++) {
        if (psp_buf_puts(out, p->stack[i]->path ? p->stack[i]->path : "<string>") < 0 ||
            psp_buf_puts(out, i + 1 < p->depth ? " -> " : "") < 0)
            psp_fail_nomem(p);
    }
}

/* Read a file into a new source on the stack.  includer/line: where the
 * include directive is (NULL for the page itself). */
static psp_source *
read_source(psp_parser *p, const char *path, psp_source *includer, long line)
{
    psp_source *src;
    struct stat st;
    size_t cap, len = 0;
    char *text;
    int fd, i;

    /* O_NONBLOCK: a FIFO must not hang the parser; it is refused below. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fail_os(p, errno, path, includer, line);
    if (fstat(fd, &st) < 0) {
        int err = errno;

        close(fd);
        fail_os(p, err, path, includer, line);
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > PSP_MAX_SOURCE_SIZE) {
        close(fd);
        fail_os(p, S_ISDIR(st.st_mode) ? EISDIR : S_ISREG(st.st_mode) ? EFBIG : EINVAL, path,
                includer, line);
    }
    for (i = 0; i < p->depth; i++) {
        if (p->stack[i]->path && p->stack[i]->dev == st.st_dev && p->stack[i]->ino == st.st_ino) {
            close(fd);
            psp_buf_clear(&p->scratch);
            describe_loop(p, &p->scratch, i);
            if (psp_buf_puts(&p->scratch, " -> ") < 0 || psp_buf_puts(&p->scratch, path) < 0)
                psp_fail_nomem(p);
            fail_syntax_at(p, includer, line, "include loop: %s", p->scratch.data);
        }
    }
    if (p->depth > PSP_MAX_INCLUDE_DEPTH) {
        close(fd);
        fail_syntax_at(p, includer, line, "includes nested more than %d deep",
                       PSP_MAX_INCLUDE_DEPTH);
    }

    cap = (size_t)st.st_size + 1;
    text = malloc(cap);
    if (text == NULL) {
        close(fd);
        psp_fail_nomem(p);
    }
    for (;;) {
        ssize_t got;

        if (len == cap) { /* the file grew while we read it */
            char *bigger = cap > PSP_MAX_SOURCE_SIZE ? NULL : realloc(text, cap * 2);

            if (bigger == NULL) {
                free(text);
                close(fd);
                if (cap > PSP_MAX_SOURCE_SIZE)
                    fail_os(p, EFBIG, path, includer, line);
                psp_fail_nomem(p);
            }
            text = bigger;
            cap *= 2;
        }
        got = read(fd, text + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int err = errno;

            free(text);
            close(fd);
            fail_os(p, err, path, includer, line);
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    text[len] = '\0'; /* len < cap: the loop grows the buffer before it is full */

    src = push_source(p);
    src->owned = text;
    src->text = text;
    src->len = len;
    src->dev = st.st_dev;
    src->ino = st.st_ino;
    src->path = copy_string(path);
    if (src->path == NULL)
        psp_fail_nomem(p);
    src->dir = copy_string(p->dir);
    if (p->dir == NULL)
        src->dir = directory_of(path);
    if (src->dir == NULL)
        psp_fail_nomem(p);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        src->text += 3; /* a byte order mark is not part of the page */
        src->len -= 3;
    }
    record_source(p, src, &st);
    check_utf8(p, src);
    return src;
}

/* ------------------------------------------------------- include directive */

static int
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static void
include(psp_parser *p, const char *name, size_t n, long line)
{
    psp_source *includer = p->stack[p->depth - 1];
    psp_source *src;

    if (n == 0)
        psp_fail_syntax(p, line, "include: the file name is empty");
    if (memchr(name, '\0', n) != NULL)
        psp_fail_syntax(p, line, "include: the file name contains a NUL byte");
    psp_buf_clear(&p->path);
    if (name[0] != '/') {
        const char *base = p->dir ? p->dir : includer->dir;

        if (base == NULL)
            psp_fail_syntax(p, line,
                            "include: \"%.*s\" is a relative path, and there is no directory "
                            "to resolve it against: use an absolute path, or pass dir",
                            (int)n, name);
        if (psp_buf_puts(&p->path, base) < 0 ||
            (base[0] && base[strlen(base) - 1] != '/' && psp_buf_putc(&p->path, '/') < 0))
            psp_fail_nomem(p);
    }
    if (psp_buf_append(&p->path, name, n) < 0)
        psp_fail_nomem(p);
    src = read_source(p, p->path.data, includer, line);
    psp_scan(p, src);
    pop_source(p);
}

/* <%@ include file="..." %>, the only directive (manual 4.9). */
static void
directive(psp_parser *p, const char *s, size_t n, long line)
{
    size_t i = 0, name_start, name_len, value_start = 0, value_len = 0;
    int have_file = 0;

#define SKIP_BLANKS()                                                                      \
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))         \
    i++

    SKIP_BLANKS();
    name_start = i;
    while (i < n && is_name_char(s[i]))
        i++;
    name_len = i - name_start;
    if (name_len == 0)
        psp_fail_syntax(p, line, "a directive needs a name: <%%@ include file=\"...\" %%>");
    if (name_len != 7 || memcmp(s + name_start, "include", 7) != 0)
        psp_fail_syntax(p, line, "unknown directive \"%.*s\": the only one is include",
                        (int)name_len, s + name_start);
    for (;;) {
        size_t attr_start, attr_len;
        char quote;

        SKIP_BLANKS();
        if (i == n)
            break;
        attr_start = i;
        while (i < n && is_name_char(s[i]))
            i++;
        attr_len = i - attr_start;
        SKIP_BLANKS();
        if (attr_len == 0 || i == n || s[i] != '=')
            psp_fail_syntax(p, line, "include: expected file=\"...\", found \"%.*s\"",
                            (int)(n - attr_start > 40 ? 40 : n - attr_start), s + attr_start);
        i++;
        SKIP_BLANKS();
        if (i == n || (s[i] != '"' && s[i] != '\''))
            psp_fail_syntax(p, line, "include: the value of %.*s must be quoted",
                            (int)attr_len, s + attr_start);
        quote = s[i++];
        value_start = i;
        while (i < n && s[i] != quote)
            i++;
        if (i == n)
            psp_fail_syntax(p, line, "include: the value of %.*s has no closing quote",
                            (int)attr_len, s + attr_start);
        if (attr_len != 4 || memcmp(s + attr_start, "file", 4) != 0)
            psp_fail_syntax(p, line, "include: unknown attribute \"%.*s\" (only file)",
                            (int)attr_len, s + attr_start);
        if (have_file)
            psp_fail_syntax(p, line, "include: file is given twice");
        have_file = 1;
        value_len = i - value_start;
        i++;
    }
#undef SKIP_BLANKS
    if (!have_file)
        psp_fail_syntax(p, line, "include needs a file: <%%@ include file=\"...\" %%>");
    include(p, s + value_start, value_len, line);
}

/* ----------------------------------------------------- the scanner's calls */

static psp_source *
top(psp_parser *p)
{
    return p->stack[p->depth - 1];
}

void
psp_on_text(psp_parser *p, const char *s, size_t n)
{
    if (p->text.len == 0)
        p->text_line = top(p)->line;
    if (psp_buf_append(&p->text, s, n) < 0)
        psp_fail_nomem(p);
}

void
psp_on_text_newline(psp_parser *p, const char *s, size_t n)
{
    psp_on_text(p, s, n);
    top(p)->line++;
}

void
psp_on_text_end(psp_parser *p)
{
    if (p->text.len == 0)
        return;
    psp_emit_text(p, p->text.data, p->text.len, p->text_line);
    psp_buf_clear(&p->text);
}

void
psp_on_tag_open(psp_parser *p, enum psp_tag kind)
{
    psp_on_text_end(p);
    p->tag_kind = kind;
    p->tag_line = top(p)->line;
    psp_buf_clear(&p->tag);
}

void
psp_on_tag_text(psp_parser *p, const char *s, size_t n)
{
    if (psp_buf_append(&p->tag, s, n) < 0)
        psp_fail_nomem(p);
}

void
psp_on_tag_newline(psp_parser *p)
{
    psp_on_tag_text(p, "\n", 1);
    top(p)->line++;
}

void
psp_on_comment_newline(psp_parser *p)
{
    psp_emit_page_newline(p, top(p)->line);
    top(p)->line++;
}

void
psp_on_tag_close(psp_parser *p)
{
    /* The directive may include a file, whose scanning reuses p->tag. */
    const char *s = p->tag.data ? p->tag.data : "";
    size_t n = p->tag.len;
    const char *nul = memchr(s, '\0', n);
    long line = p->tag_line, newlines = 0;
    size_t i;

    if (p->tag_kind == PSP_TAG_COMMENT)
        return; /* its newlines are done */
    if (nul != NULL) {
        for (i = 0; s + i < nul; i++)
            newlines += s[i] == '\n';
        psp_fail_syntax(p, line + newlines, "a NUL byte is not allowed inside <%% %%>");
    }
    switch (p->tag_kind) {
    case PSP_TAG_CODE:
        psp_emit_code(p, s, n, line);
        break;
    case PSP_TAG_EXPR:
        psp_emit_expr(p, s, n, line);
        break;
    case PSP_TAG_DIRECTIVE:
        for (i = 0; i < n; i++)
            newlines += s[i] == '\n';
        directive(p, s, n, line);
        for (i = 0; i < (size_t)newlines; i++)
            psp_emit_page_newline(p, line + (long)i);
        break;
    case PSP_TAG_COMMENT:
        break;
    }
}

PSP_NORETURN void
psp_on_unterminated(psp_parser *p)
{
    switch (p->tag_kind) {
    case PSP_TAG_COMMENT:
        psp_fail_syntax(p, p->tag_line, "<%%-- without its --%%>: the comment is not closed");
    case PSP_TAG_EXPR:
        psp_fail_syntax(p, p->tag_line, "<%%= without its %%>: the expression is not closed");
    case PSP_TAG_DIRECTIVE:
        psp_fail_syntax(p, p->tag_line, "<%%@ without its %%>: the directive is not closed");
    case PSP_TAG_CODE:
    default:
        psp_fail_syntax(p, p->tag_line, "<%% without its %%>: the code is not closed");
    }
}

/* ------------------------------------------------------------ entry points */

void
psp_parser_init(psp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->movable = SIZE_MAX;
}

void
psp_parser_free(psp_parser *p)
{
    size_t i;

    while (p->depth > 0)
        pop_source(p);
    psp_emit_free(p);
    psp_buf_free(&p->out);
    psp_buf_free(&p->text);
    psp_buf_free(&p->tag);
    psp_buf_free(&p->path);
    for (i = 0; i < p->nsources; i++)
        free(p->sources[i].path);
    free(p->sources);
    p->sources = NULL;
    p->nsources = p->capsources = 0;
    free(p->error_path);
    free(p->error_text);
    p->error_path = p->error_text = NULL;
}

typedef struct {
    const char *filename, *text;
    size_t len;
} parse_args;

static void
parse_page(psp_parser *p, const parse_args *a)
{
    psp_source *src;

    psp_emit_init(p);
    if (a->filename != NULL) {
        /* The manual: dir and filename are simply concatenated. */
        if (psp_buf_puts(&p->path, p->dir ? p->dir : "") < 0 ||
            psp_buf_puts(&p->path, a->filename) < 0)
            psp_fail_nomem(p);
        src = read_source(p, p->path.data, NULL, 0);
    }
    else {
        src = push_source(p);
        src->text = a->text;
        src->len = a->len;
        src->dir = copy_string(p->dir);
        if (p->dir != NULL && src->dir == NULL)
            psp_fail_nomem(p);
        record_source(p, src, NULL);
        check_utf8(p, src);
    }
    psp_scan(p, src);
    psp_emit_finish(p);
    pop_source(p);
}

/* setjmp() lives in this small function so that nothing it would have to
 * keep across longjmp() is in a local variable. */
static int
run(psp_parser *p, const parse_args *a)
{
    jmp_buf env;

    p->on_error = &env;
    if (setjmp(env) != 0) {
        p->on_error = NULL;
        while (p->depth > 0)
            pop_source(p);
        return -1;
    }
    parse_page(p, a);
    p->on_error = NULL;
    return 0;
}

int
psp_parse_file(psp_parser *p, const char *filename, const char *dir)
{
    parse_args a = {filename, NULL, 0};

    p->dir = dir;
    return run(p, &a);
}

int
psp_parse_string(psp_parser *p, const char *text, size_t len, const char *dir)
{
    parse_args a = {NULL, text, len};

    p->dir = dir;
    return run(p, &a);
}
