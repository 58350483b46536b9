/*
 * psp_parser.h - the PSP parser: from a PSP page to Python source.
 *
 * Four parts share this header:
 *
 *   psp_scanner.l  the flex scanner: splits a page into text, code
 *                  (<% %>), expressions (<%= %>), directives (<%@ %>) and
 *                  comments (<%-- --%>) and calls the psp_on_* functions;
 *   psp_parse.c    the driver: reads files, checks UTF-8, runs the scanner,
 *                  handles the include directive and records errors;
 *   psp_emit.c     the code generator: turns each piece into Python source
 *                  and keeps the indentation rules of the manual (4.9);
 *   psp_pyscan.c   a small Python line scanner the generator uses to find
 *                  logical lines, comments and a final ':'.
 *
 * None of them touches a Python object, so the whole parse runs with the
 * GIL released.  All state lives in one psp_parser; there are no globals.
 *
 * Errors unwind with longjmp() to psp_parse_file()/psp_parse_string(),
 * which free everything reachable from the parser; that is also how flex's
 * own fatal errors (out of memory) are caught instead of calling exit().
 */
#ifndef PSP_PARSER_H
#define PSP_PARSER_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "psp_buf.h"

#if defined(__GNUC__) || defined(__clang__)
#define PSP_NORETURN __attribute__((noreturn))
#define PSP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PSP_NORETURN
#define PSP_PRINTF(f, a)
#endif

/* Includes nested deeper than this are refused (a loop is caught earlier). */
#define PSP_MAX_INCLUDE_DEPTH 64
/* flex takes the length of its input as an int. */
#define PSP_MAX_SOURCE_SIZE ((size_t)0x3fffffff)

enum psp_tag { PSP_TAG_CODE, PSP_TAG_EXPR, PSP_TAG_DIRECTIVE, PSP_TAG_COMMENT };

enum psp_error {
    PSP_ERR_NONE = 0,
    PSP_ERR_SYNTAX, /* the page is wrong: message, file, line */
    PSP_ERR_OS,     /* a file could not be read: errno, file (+ context) */
    PSP_ERR_NOMEM
};

/* Where the parser stands in the generated code, for joining statements. */
enum psp_line_state {
    PSP_AT_START,  /* nothing written on the current generated line yet */
    PSP_JOINABLE,  /* a simple statement: "; " may follow */
    PSP_BLOCKED    /* ends with ':' or a comment: the next one needs a new line */
};

/* psp_pyscan.c: what the generator needs to know about a piece of Python. */
typedef struct psp_pyline {
    unsigned char logical_start; /* begins a logical line (not a continuation) */
    unsigned char in_string;     /* begins inside a triple-quoted string */
    unsigned char has_comment;   /* a comment is on this line */
} psp_pyline;

typedef struct psp_pyinfo {
    size_t nlines;
    psp_pyline *lines;      /* nlines entries, malloc'ed */
    long last_logical;      /* line where the last non-blank logical line starts, or -1 */
    char last_logical_end;  /* its last significant character (0: only a comment) */
    int has_code;           /* anything but blanks and comments */
    int open_at_end;        /* ends inside brackets, a string or after a backslash */
} psp_pyinfo;

/* One file (or the string) being read. */
typedef struct psp_source {
    char *path;      /* NULL for parse_string() */
    char *dir;       /* directory relative includes are resolved against, or NULL */
    const char *text; /* the contents (UTF-8, BOM removed) */
    size_t len;
    char *owned;      /* what to free: the file's contents, NULL for a string */
    long line;       /* the scanner's current line, from 1 */
    long base;       /* generated line of this source's line 1, minus 1 */
    int index;       /* index into psp_parser.sources */
    dev_t dev;
    ino_t ino;
    void *scanner;   /* the flex scanner while this source is scanned */
} psp_source;

/* What the caller learns about every source read, in the order read. */
typedef struct psp_source_info {
    char *path;          /* NULL for the string */
    int64_t mtime_ns;    /* modification time and size when read */
    int64_t size;
} psp_source_info;

typedef struct psp_parser {
    jmp_buf *on_error;

    /* -- the generated code */
    psp_buf out;
    long phys;                  /* number of the current generated line, from 1 */
    enum psp_line_state state;
    psp_buf line_indent;        /* indentation of the current line's first statement */
    size_t movable;             /* see psp_emit.c; SIZE_MAX when there is none */
    int movable_cr;
    long cur_line;              /* source line the generator is at */

    /* -- indentation: the indent of the next statement, and the open levels */
    psp_buf indent;
    psp_buf *levels;
    size_t nlevels, caplevels;

    /* -- generated line -> (source index, source line), one entry per line */
    int *map_source;
    long *map_line;
    size_t nmap, capmap;

    /* -- sources: every file read, and the stack of those being scanned */
    psp_source_info *sources;
    size_t nsources, capsources;
    psp_source *stack[PSP_MAX_INCLUDE_DEPTH + 1];
    int depth;

    /* -- scratch space of the generator and the include directive */
    psp_pyinfo py;
    psp_buf scratch;
    psp_buf path;
    const char *dir;            /* the dir argument, or NULL */

    /* -- the piece of page being collected by the scanner */
    psp_buf text;
    long text_line;
    psp_buf tag;
    long tag_line;
    enum psp_tag tag_kind;

    /* -- the error, when a parse fails */
    enum psp_error error;
    int error_errno;
    char error_message[1024];
    char *error_path;     /* the file the error is in (or could not be read) */
    long error_line;      /* 0 when not about a line */
    char *error_text;     /* that line of the source, when known */
} psp_parser;

/* psp_parse.c: the entry points.  Both return 0, or -1 with p->error set.
 * dir, when not NULL, is prepended to filename by plain concatenation (as the
 * manual says) and relative includes of the string are resolved against it. */
void psp_parser_init(psp_parser *p);
void psp_parser_free(psp_parser *p);
int psp_parse_file(psp_parser *p, const char *filename, const char *dir);
int psp_parse_string(psp_parser *p, const char *text, size_t len, const char *dir);

/* psp_parse.c: failing.  These never return. */
PSP_NORETURN void psp_fail_nomem(psp_parser *p);
PSP_NORETURN void psp_fail_syntax(psp_parser *p, long line, const char *fmt, ...)
    PSP_PRINTF(3, 4);

/* psp_parse.c: called by the scanner's actions. */
void psp_on_text(psp_parser *p, const char *s, size_t n);
void psp_on_text_newline(psp_parser *p, const char *s, size_t n);
void psp_on_text_end(psp_parser *p);
void psp_on_tag_open(psp_parser *p, enum psp_tag kind);
void psp_on_tag_text(psp_parser *p, const char *s, size_t n);
void psp_on_tag_newline(psp_parser *p);
void psp_on_tag_close(psp_parser *p);
void psp_on_comment_newline(psp_parser *p);
PSP_NORETURN void psp_on_unterminated(psp_parser *p);
PSP_NORETURN void psp_on_scanner_fatal(psp_parser *p, const char *msg);

/* psp_scanner.l: scan one source, calling the psp_on_* functions. */
void psp_scan(psp_parser *p, psp_source *src);
void psp_scan_destroy(void *scanner);

/* psp_emit.c: the code generator. */
void psp_emit_init(psp_parser *p);
void psp_emit_free(psp_parser *p);
void psp_emit_text(psp_parser *p, const char *s, size_t n, long line);
void psp_emit_code(psp_parser *p, const char *s, size_t n, long line);
void psp_emit_expr(psp_parser *p, const char *s, size_t n, long line);
void psp_emit_page_newline(psp_parser *p, long line);
void psp_emit_finish(psp_parser *p);

/* psp_pyscan.c */
int psp_pyscan(const char *s, size_t n, psp_pyinfo *info);
void psp_pyinfo_free(psp_pyinfo *info);

#endif /* PSP_PARSER_H */
