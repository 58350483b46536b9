/*
 * psp_emit.c - the PSP code generator: pieces of a page -> Python source.
 *
 * Text becomes req.write("""...""", 0) and an expression
 * req.write(str(...), 0); code is copied.  The writes do not flush: the
 * manual gives PSP.run() a flag to flush at the end, and MODPYTHON-107 wants
 * the output unflushed so that a Content-Length can still be computed.
 * The rules of the manual (4.9):
 *
 *  - text and the statements of a one-line <% %> are written at the current
 *    indentation; a one-line <% %> ending in ':' opens a block (one more
 *    level: four spaces, or a tab if the indentation has tabs);
 *  - a newline inside <% %> resets the indentation: the lines after it are
 *    copied as written, and the indentation of the last logical line
 *    (continuation lines do not count; a comment line does) persists for
 *    what follows, one level deeper if that line ends in ':'.  A block of
 *    only blank lines resets it to none;
 *  - two conventions close blocks from one-line tags: "<% # end %>" (a
 *    comment starting with the word "end") goes back one level, and
 *    "<% else: %>", "<% elif c: %>", "<% except E: %>", "<% finally: %>"
 *    are written one level back and open their own block.
 *
 * Line numbers.  The generated code keeps the page's line numbers: its line
 * N holds what page line N holds, so that Python's SyntaxErrors and
 * tracebacks point at the page.  Text keeps its newlines inside the
 * triple-quoted strings, and statements of one page line are joined with
 * "; ".  When a statement must start a new line that the page does not have
 * (after "if x:" on the same page line, say), the generator owes a line;
 * it pays it back with the next newline of text, written as the escape \n
 * instead of a real newline.  Better still, if the previous newline was the
 * last one of a text string, it is turned into \n (it is "movable") and the
 * new line costs nothing.  A map of every generated line to its source line
 * is kept anyway, for the lines that cannot match (includes, for one).
 */
#include "psp_parser.h"

#include <stdlib.h>
#include <string.h>

#define NO_MOVABLE SIZE_MAX

/* One-line statements that cannot follow "; " on a line. */
static const char *const compound_words[] = {
    "if", "elif", "else", "for", "while", "try", "except", "finally", "with",
    "def", "class", "async", "match", "case", NULL,
};
/* Clauses written one level back: they continue the block above. */
static const char *const dedent_words[] = {"elif", "else", "except", "finally", NULL};

/* ------------------------------------------------------------------ helpers */

static void
put(psp_parser *p, const char *s, size_t n)
{
    if (psp_buf_append(&p->out, s, n) < 0)
        psp_fail_nomem(p);
}

static void
put_str(psp_parser *p, const char *s)
{
    put(p, s, strlen(s));
}

static void
buf_set(psp_parser *p, psp_buf *b, const char *s, size_t n)
{
    if (psp_buf_set(b, s, n) < 0)
        psp_fail_nomem(p);
}

static int
is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\v';
}

static size_t
leading_blanks(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && is_blank_char(s[i]))
        i++;
    return i;
}

static size_t
without_trailing_blanks(const char *s, size_t n)
{
    while (n > 0 && is_blank_char(s[n - 1]))
        n--;
    return n;
}

static int
is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (unsigned char)c >= 0x80;
}

static int
starts_with_word(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++) {
        size_t len = strlen(*words);

        if (n >= len && memcmp(s, *words, len) == 0 && (n == len || !is_ident_char(s[len])))
            return 1;
    }
    return 0;
}

/* "# end", "#end", "# end for": the comment that closes a block. */
static int
is_end_comment(const char *s, size_t n)
{
    size_t i = 1;

    if (n == 0 || s[0] != '#')
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 3 || memcmp(s + i, "end", 3) != 0)
        return 0;
    return i + 3 == n || !is_ident_char(s[i + 3]);
}

static psp_source *
current(psp_parser *p)
{
    return p->stack[p->depth - 1];
}

/* How many generated lines the code is ahead of the page. */
static long
debt(psp_parser *p)
{
    psp_source *src = current(p);

    return p->phys - (src->base + p->cur_line);
}

/* ------------------------------------------------------------ lines and map */

static void
map_push(psp_parser *p)
{
    if (p->nmap == p->capmap) {
        size_t cap = p->capmap ? p->capmap * 2 : 256;
        int *sources = realloc(p->map_source, cap * sizeof(int));
        long *lines;

        if (sources == NULL)
            psp_fail_nomem(p);
        p->map_source = sources;
        lines = realloc(p->map_line, cap * sizeof(long));
        if (lines == NULL)
            psp_fail_nomem(p);
        p->map_line = lines;
        p->capmap = cap;
    }
    p->map_source[p->nmap] = current(p)->index;
    p->map_line[p->nmap] = p->cur_line;
    p->nmap++;
}

/* A newline of the generated code, ending what stands for page line cur_line. */
static void
physical_newline(psp_parser *p)
{
    put(p, "\n", 1);
    map_push(p);
    p->phys++;
    p->movable = NO_MOVABLE;
    p->state = PSP_AT_START;
}

/* Start a new generated line for a statement the current line cannot take. */
static void
new_line(psp_parser *p)
{
    if (p->movable == NO_MOVABLE) {
        physical_newline(p); /* owed: paid back by a later newline of text */
        return;
    }
    /* The last newline is inside the string of the previous req.write():
     * write it as an escape instead, and end the line here. The map entry
     * of the line it ended now stands for this one. */
    if (p->movable_cr)
        psp_buf_erase(&p->out, p->movable, 2); /* a backslash-newline */
    else {
        p->out.data[p->movable] = '\\';
        if (psp_buf_insert(&p->out, p->movable + 1, "n", 1) < 0)
            psp_fail_nomem(p);
    }
    put(p, "\n", 1);
    p->movable = NO_MOVABLE;
    p->state = PSP_AT_START;
}

/* ------------------------------------------------------------- indentation */

/* The open levels are a stack of indentations, like Python's tokenizer
 * keeps: writing at an indentation closes the deeper ones. */
static void
levels_touch(psp_parser *p, const char *ind, size_t n)
{
    while (p->nlevels > 1 && p->levels[p->nlevels - 1].len > n)
        psp_buf_free(&p->levels[--p->nlevels]);
    if (p->levels[p->nlevels - 1].len < n) {
        if (p->nlevels == p->caplevels) {
            size_t cap = p->caplevels * 2;
            psp_buf *levels = realloc(p->levels, cap * sizeof(psp_buf));

            if (levels == NULL)
                psp_fail_nomem(p);
            p->levels = levels;
            p->caplevels = cap;
        }
        memset(&p->levels[p->nlevels], 0, sizeof(psp_buf));
        p->nlevels++;
        buf_set(p, &p->levels[p->nlevels - 1], ind, n);
    }
}

/* The indentation of what follows; ind must not point into p->indent. */
static void
set_indent(psp_parser *p, const char *ind, size_t n)
{
    buf_set(p, &p->indent, ind, n);
    levels_touch(p, ind, n);
}

/* One level deeper than ind: four spaces, or a tab where tabs are used. */
static void
set_indent_deeper(psp_parser *p, const char *ind, size_t n)
{
    buf_set(p, &p->scratch, ind, n);
    if (psp_buf_puts(&p->scratch, n && memchr(ind, '\t', n) ? "\t" : "    ") < 0)
        psp_fail_nomem(p);
    set_indent(p, p->scratch.data, p->scratch.len);
}

/* Back to the level that encloses the current one. */
static void
dedent(psp_parser *p)
{
    psp_buf *top;

    levels_touch(p, p->indent.data, p->indent.len);
    if (p->nlevels > 1)
        psp_buf_free(&p->levels[--p->nlevels]);
    top = &p->levels[p->nlevels - 1];
    buf_set(p, &p->indent, top->data, top->len);
}

/* Begin a statement at the current indentation: after "; " on the current
 * line when allowed, else on a line of its own. */
static void
begin_statement(psp_parser *p, int joinable)
{
    if (p->state == PSP_JOINABLE && joinable && p->line_indent.len == p->indent.len &&
        (p->indent.len == 0 || memcmp(p->line_indent.data, p->indent.data, p->indent.len) == 0)) {
        put(p, "; ", 2);
        return;
    }
    if (p->state != PSP_AT_START)
        new_line(p);
    put(p, p->indent.data, p->indent.len);
    buf_set(p, &p->line_indent, p->indent.data, p->indent.len);
    levels_touch(p, p->indent.data, p->indent.len);
}

/* A whole-line comment goes at the end of the current generated line. */
static void
append_comment(psp_parser *p, const char *s, size_t n)
{
    if (p->state == PSP_AT_START)
        put(p, p->indent.data, p->indent.len);
    else
        put(p, "  ", 2);
    put(p, s, n);
    p->movable = NO_MOVABLE;
    p->state = PSP_BLOCKED;
}

static void
pyscan(psp_parser *p, const char *s, size_t n)
{
    psp_pyinfo_free(&p->py);
    if (psp_pyscan(s, n, &p->py) < 0)
        psp_fail_nomem(p);
}

/* -------------------------------------------------------------------- text */

/* A newline of the text; cr: a lone CR, whose "\r" is already written. */
static void
text_line_end(psp_parser *p, int cr)
{
    if (debt(p) > 0) {
        if (!cr)
            put(p, "\\n", 2); /* pay one line back */
    }
    else {
        size_t at = p->out.len;

        /* A CR alone is kept as \r, and the line ends with a backslash-newline,
         * which a string literal drops. */
        put(p, cr ? "\\\n" : "\n", cr ? 2 : 1);
        map_push(p);
        p->phys++;
        p->movable = at;
        p->movable_cr = cr;
    }
    p->cur_line++;
}

void
psp_emit_text(psp_parser *p, const char *s, size_t n, long line)
{
    size_t i;

    if (n == 0)
        return;
    p->cur_line = line;
    begin_statement(p, 1);
    put_str(p, "req.write(\"\"\"");
    for (i = 0; i < n; i++) {
        char c = s[i];

        switch (c) {
        case '\\':
            put(p, "\\\\", 2);
            break;
        case '"':
            /* Only where it could close the string: before another quote or last. */
            if (i + 1 == n || s[i + 1] == '"')
                put(p, "\\\"", 2);
            else
                put(p, "\"", 1);
            break;
        case '\0':
            put(p, "\\x00", 4); /* Python source cannot hold a NUL */
            break;
        case '\r':
            put(p, "\\r", 2); /* kept as it is; Python would read it as \n */
            if (i + 1 < n && s[i + 1] == '\n')
                break; /* CRLF: the \n ends the line */
            text_line_end(p, 1);
            break;
        case '\n':
            text_line_end(p, 0);
            break;
        default:
            put(p, &c, 1);
        }
    }
    put_str(p, "\"\"\", 0)");
    p->state = PSP_JOINABLE;
}

/* -------------------------------------------------------------------- code */

static void
emit_code_line(psp_parser *p, const char *s, size_t n)
{
    size_t lead = leading_blanks(s, n);
    int compound, colon;

    s += lead;
    n = without_trailing_blanks(s, n - lead);
    if (n == 0)
        return;
    pyscan(p, s, n);
    if (!p->py.has_code) {
        append_comment(p, s, n);
        if (is_end_comment(s, n))
            dedent(p);
        return;
    }
    if (starts_with_word(s, n, dedent_words))
        dedent(p);
    compound = s[0] == '@' || starts_with_word(s, n, compound_words);
    colon = p->py.last_logical_end == ':';
    begin_statement(p, !compound);
    put(p, s, n);
    p->movable = NO_MOVABLE;
    if (colon)
        set_indent_deeper(p, p->indent.data, p->indent.len);
    p->state = (compound || colon || p->py.lines[0].has_comment || p->py.open_at_end ||
                s[n - 1] == ';')
                   ? PSP_BLOCKED
                   : PSP_JOINABLE;
}

/* The newline between two lines of a code block. */
static void
code_newline(psp_parser *p, int in_string)
{
    /* An empty generated line can be left out to pay back an owed line,
     * unless the newline belongs to a string. */
    if (!(p->state == PSP_AT_START && !in_string && debt(p) > 0))
        physical_newline(p);
    p->cur_line++;
}

static void
emit_code_lines(psp_parser *p, const char *s, size_t n)
{
    const psp_pyinfo *py;
    size_t k, start = 0, last_start = 0;
    long last;

    pyscan(p, s, n);
    py = &p->py;
    last = py->last_logical;
    for (k = 0; k < py->nlines; k++) {
        const char *end = memchr(s + start, '\n', n - start);
        size_t len = (end ? (size_t)(end - s) : n) - start;
        const char *ln = s + start;
        int is_last = end == NULL;

        if ((long)k == last)
            last_start = start;
        if (k > 0)
            code_newline(p, py->lines[k].in_string);
        start += len + 1;
        if (k == 0) {
            /* The line after "<%": at the current indentation. */
            size_t lead = leading_blanks(ln, len);

            ln += lead;
            len -= lead;
            if (is_last)
                len = without_trailing_blanks(ln, len);
            if (len == 0)
                continue;
            if (starts_with_word(ln, len, dedent_words))
                dedent(p);
            begin_statement(p, ln[0] != '@' && ln[0] != '#' &&
                                   !starts_with_word(ln, len, compound_words));
            buf_set(p, &p->scratch, p->indent.data, p->indent.len); /* line 0's indent */
        }
        else if (py->lines[k].in_string) {
            if (len == 0)
                continue;
        }
        else {
            if (is_last)
                len = without_trailing_blanks(ln, len);
            if (leading_blanks(ln, len) == len)
                continue; /* blank: its blanks are dropped */
            if (py->lines[k].logical_start)
                levels_touch(p, ln, leading_blanks(ln, len));
        }
        put(p, ln, len);
        p->state = PSP_BLOCKED;
    }
    p->movable = NO_MOVABLE;

    if (last < 0) {
        set_indent(p, "", 0); /* only blank lines: back to no indentation */
        return;
    }
    if (last == 0) {
        /* The indentation line 0 was written at (saved in scratch). */
        if (psp_buf_set(&p->line_indent, p->scratch.data, p->scratch.len) < 0)
            psp_fail_nomem(p);
    }
    else {
        const char *ln = s + last_start;

        buf_set(p, &p->line_indent, ln, leading_blanks(ln, n - last_start));
    }
    /* line_indent is rebuilt by the next statement anyway; borrow it here. */
    if (py->last_logical_end == ':')
        set_indent_deeper(p, p->line_indent.data, p->line_indent.len);
    else
        set_indent(p, p->line_indent.data, p->line_indent.len);
}

void
psp_emit_code(psp_parser *p, const char *s, size_t n, long line)
{
    p->cur_line = line;
    if (memchr(s, '\n', n) == NULL)
        emit_code_line(p, s, n);
    else
        emit_code_lines(p, s, n);
}

/* -------------------------------------------------------------- expression */

void
psp_emit_expr(psp_parser *p, const char *s, size_t n, long line)
{
    size_t i, run;

    p->cur_line = line;
    while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    pyscan(p, s, n);
    if (!p->py.has_code)
        psp_fail_syntax(p, line, "empty expression: <%%= %%> needs a Python expression");
    begin_statement(p, 1);
    put_str(p, "req.write(str(");
    for (i = 0; i < n; i += run) {
        if (s[i] == '\n') {
            physical_newline(p);
            p->cur_line++;
            run = 1;
            continue;
        }
        for (run = 0; i + run < n && s[i + run] != '\n'; run++)
            ;
        put(p, s + i, run);
    }
    /* A comment on the last line would swallow the closing parentheses. */
    if (p->py.lines[p->py.nlines - 1].has_comment)
        physical_newline(p);
    put_str(p, "), 0)");
    p->movable = NO_MOVABLE;
    p->state = PSP_JOINABLE;
}

/* ------------------------------------------------------------------- other */

/* A newline of the page between statements (in a comment or a directive). */
void
psp_emit_page_newline(psp_parser *p, long line)
{
    p->cur_line = line;
    if (debt(p) <= 0)
        physical_newline(p);
}

void
psp_emit_init(psp_parser *p)
{
    p->levels = calloc(8, sizeof(psp_buf));
    if (p->levels == NULL)
        psp_fail_nomem(p);
    p->caplevels = 8;
    p->nlevels = 1; /* the bottom level: no indentation */
    p->phys = 1;
    p->state = PSP_AT_START;
    p->movable = NO_MOVABLE;
}

void
psp_emit_finish(psp_parser *p)
{
    p->cur_line = current(p)->line;
    if (p->out.len > 0 && p->out.data[p->out.len - 1] != '\n')
        physical_newline(p);
}

void
psp_emit_free(psp_parser *p)
{
    size_t i;

    for (i = 0; i < p->nlevels; i++)
        psp_buf_free(&p->levels[i]);
    free(p->levels);
    p->levels = NULL;
    p->nlevels = p->caplevels = 0;
    psp_buf_free(&p->indent);
    psp_buf_free(&p->line_indent);
    psp_buf_free(&p->scratch);
    psp_pyinfo_free(&p->py);
    free(p->map_source);
    free(p->map_line);
    p->map_source = NULL;
    p->map_line = NULL;
    p->nmap = p->capmap = 0;
}
