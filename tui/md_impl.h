/* md_impl.h — inside markdown.c and md_code.c only: the state md4c's
 * callbacks build lines with, and the line helpers both use.
 */
#ifndef PL_TUI_MD_IMPL_H
#define PL_TUI_MD_IMPL_H

#include "layout_impl.h"

#define MAX_DEPTH 16

/* A container: every line inside it starts with its mark. */
typedef struct md_box {
    bool  item;            /* a list item (else a block quote) */
    bool  used;            /* the item's first line, with its bullet, is out */
    atoms first, rest;
} md_box;

typedef struct md_list {
    bool     ordered, tight;
    unsigned next;
    char     delim;
} md_list;

typedef struct md_r {
    lay_cache *c;
    int        width, msg, indent;
    bool       ascii;
    uint8_t    base;
    md_box     box[MAX_DEPTH];
    int        nbox, deep;          /* deep: containers past MAX_DEPTH (no mark of their own) */
    md_list    list[MAX_DEPTH];
    int        nlist, deep_list;
    atoms      text, pre1, pre2;    /* the leaf's inline content; scratch prefixes */
    int        bold, italic, code, link, del, img, heading;
    int        link_start;
    char      *href;
    bool       in_code, in_cell;
    char      *code_buf, lang[32];
    size_t     code_n, code_cap;
    md_table  *table;
    int        cell_align;
    bool       cell_head, gap, any, first_block;
    int        code_blocks;
    bool       cont;                /* the piece starts inside a code block laid out before */
    bool       cut_open;            /* and ends inside one, to go on in the next piece */
    int        hl_state;            /* the highlighter's state where that block was cut */
    unsigned   ol_next, end_ol_next;   /* numbered list carried over from the piece before */
    char       ol_delim, end_ol_delim;
} md_r;

/* markdown.c */
void md_prefix(md_r *r, atoms *p, bool first);   /* the next line's container marks */
void md_used(md_r *r);                            /* a line is out: bullets become spaces */
void md_gap(md_r *r);                             /* the blank line between blocks, if due */
/* md_code.c */
void md_code(md_r *r);                            /* a finished code block into lines */

#endif
