/* highlight.c — syntax colours for code blocks, one table row per language.
 *
 * A row names the fence labels it answers to, its keywords (and the types
 * and builtins people expect coloured with them), its comment markers and
 * its string quotes: which may span lines, which take no backslash escapes.
 * hl_line classes each byte of a line as keyword, string, comment, number
 * or plain; comments and strings left open at the end of a line carry over
 * in *state. It is a scanner, not a parser: good enough to read by, never
 * wrong in a way that hides text (the class only picks a colour).
 */
#include <string.h>

#include "layout_impl.h"

struct hl_lang {
    const char *names;          /* " c h cpp " — fence labels, space-separated, spaces around */
    const char *keywords;       /* the same form */
    const char *line_comment;   /* "//", "#" or NULL */
    const char *block_open, *block_close;
    const char *quotes;         /* string delimiters */
    const char *multiline;      /* those whose strings may span lines */
    const char *raw;            /* those whose strings take no backslash escapes */
    bool triple;                /* Python's """ and ''' */
    bool hash_at_word;          /* shell: # starts a comment only at the start of a word */
    bool directives;            /* C: #include and friends */
    bool lifetimes;             /* Rust: 'a is not a character literal */
};

static const hl_lang langs[] = {
    {" c h cpp c++ cc cxx hpp hh cuda cu objc ",
     " auto break case char const continue default do double else enum extern float for goto if inline int "
     "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
     "volatile while bool true false NULL nullptr class namespace template typename public private protected "
     "virtual override new delete this using try catch throw noexcept constexpr size_t ssize_t uint8_t "
     "uint16_t uint32_t uint64_t int8_t int16_t int32_t int64_t std _Bool static_assert ",
     "//", "/*", "*/", "\"'", "", "", false, false, true, false},
    {" python py python3 py3 ",
     " False None True and as assert async await break class continue def del elif else except finally for "
     "from global if import in is lambda nonlocal not or pass raise return try while with yield self print "
     "len range int str float list dict set tuple bool match case ",
     "#", NULL, NULL, "\"'", "", "", true, false, false, false},
    {" sh bash zsh shell console shellscript ksh fish ",
     " if then else elif fi case esac for while until do done in function select return local export "
     "readonly declare unset shift exit break continue echo printf cd source alias set trap eval exec test "
     "true false sudo ",
     "#", NULL, NULL, "\"'", "\"'", "'", false, true, false, false},
    {" json jsonc json5 jsonl ", " true false null ", "//", "/*", "*/", "\"", "", "", false, false, false, false},
    {" js javascript jsx mjs cjs node ts typescript tsx ",
     " break case catch class const continue debugger default delete do else export extends finally for "
     "function if import in instanceof let new return super switch this throw try typeof var void while with "
     "yield async await of static get set null undefined true false interface type enum implements private "
     "public protected readonly abstract declare namespace keyof as any number string boolean unknown never "
     "from console ",
     "//", "/*", "*/", "\"'`", "`", "", false, false, false, false},
    {" rust rs ",
     " as async await break const continue crate dyn else enum extern false fn for if impl in let loop match "
     "mod move mut pub ref return self Self static struct super trait true type unsafe use where while i8 i16 "
     "i32 i64 i128 isize u8 u16 u32 u64 u128 usize f32 f64 bool char str String Vec Option Some None Result "
     "Ok Err Box println macro_rules ",
     "//", "/*", "*/", "\"'", "\"", "", false, false, false, true},
    {" go golang ",
     " break case chan const continue default defer else fallthrough for func go goto if import interface map "
     "package range return select struct switch type var true false nil iota int int8 int16 int32 int64 uint "
     "uint8 uint16 uint32 uint64 uintptr float32 float64 string byte rune error bool make new len cap append "
     "panic recover ",
     "//", "/*", "*/", "\"'`", "`", "`", false, false, false, false},
};

/* Is " name " one of the space-separated words of list? */
static bool in_list(const char *list, const char *name, size_t n)
{
    if (n == 0 || n > 40) return false;
    char word[44];
    word[0] = ' ';
    memcpy(word + 1, name, n);
    word[n + 1] = ' ';
    word[n + 2] = 0;
    return strstr(list, word) != NULL;
}

/* A fence label to its language row, case-insensitively. */
const hl_lang *hl_find(const char *name, size_t n)
{
    char low[44];
    if (n > 40) return NULL;
    for (size_t i = 0; i < n; i++) low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
        if (in_list(langs[i].names, low, n)) return &langs[i];
    return NULL;
}

/* Part of an identifier (UTF-8 letters too). */
static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

/* Does s[i..n) start with w (NULL or "" never matches)? */
static bool starts(const char *s, size_t i, size_t n, const char *w)
{
    size_t k = w ? strlen(w) : 0;
    return k && i + k <= n && memcmp(s + i, w, k) == 0;
}

/* Mark [from, to) as class k. */
static void paint(uint8_t *cls, size_t from, size_t to, uint8_t k)
{
    memset(cls + from, k, to - from);
}

/* States: 0 code, 1 block comment, 2 + 2 * quote index + triple: in a string. */
enum { ST_CODE, ST_BLOCK, ST_STRING };

/* Scan a string body from i for its closing quote; returns the index after it, or n. */
static size_t string_end(const hl_lang *l, const char *s, size_t i, size_t n, char q, bool triple, bool *closed)
{
    bool esc = !strchr(l->raw, q);
    for (; i < n; i++) {
        if (esc && s[i] == '\\') { i++; continue; }
        if (s[i] == q && (!triple || (i + 2 < n && s[i + 1] == q && s[i + 2] == q))) {
            *closed = true;
            return i + (triple ? 3 : 1);
        }
    }
    *closed = false;
    return n;
}

/* A string opening at i: painted, and *state set if it runs past the line. */
static size_t hl_string(const hl_lang *l, int *state, const char *s, size_t i, size_t n, uint8_t *cls)
{
    char q = s[i];
    bool triple = l->triple && i + 2 < n && s[i + 1] == q && s[i + 2] == q, closed;
    size_t e = string_end(l, s, i + (triple ? 3 : 1), n, q, triple, &closed);
    if (!closed && l->lifetimes && q == '\'') return i + 1;   /* 'a: a lifetime */
    paint(cls, i, e, HL_STRING);
    if (!closed && (triple || strchr(l->multiline, q)))
        *state = ST_STRING + 2 * (int)(strchr(l->quotes, q) - l->quotes) + triple;
    return e;
}

/* Where the block comment closing at or after i ends, or n if it does not. */
static size_t block_end(const hl_lang *l, const char *s, size_t i, size_t n, bool *closed)
{
    for (; i < n; i++)
        if (starts(s, i, n, l->block_close)) { *closed = true; return i + strlen(l->block_close); }
    *closed = false;
    return n;
}

/* What an open comment or string from the line before covers of this one. */
static size_t hl_carry(const hl_lang *l, int *state, const char *s, size_t n, uint8_t *cls)
{
    bool closed;
    size_t end;
    if (*state == ST_BLOCK) {
        end = block_end(l, s, 0, n, &closed);
        paint(cls, 0, end, HL_COMMENT);
    } else {
        int k = *state - ST_STRING;
        end = string_end(l, s, 0, n, l->quotes[k / 2], k & 1, &closed);
        paint(cls, 0, end, HL_STRING);
    }
    if (closed) *state = ST_CODE;
    return end;
}

/* A number from i: digits, then letters, digits, dots and underscores (0x1F, 1e9, 2.5f). */
static size_t hl_number(const char *s, size_t i, size_t n, uint8_t *cls)
{
    size_t e = i;
    while (e < n && (ident_char(s[e]) || (s[e] == '.' && e + 1 < n && s[e + 1] >= '0' && s[e + 1] <= '9'))) e++;
    paint(cls, i, e, HL_NUMBER);
    return e;
}

/* Scan a line left to right: comments, strings, numbers, words. */
void hl_line(const hl_lang *l, int *state, const char *s, size_t n, uint8_t *cls)
{
    size_t i = *state != ST_CODE ? hl_carry(l, state, s, n, cls) : 0;
    if (*state != ST_CODE) return;
    bool line_start = true;
    while (i < n) {
        char c = s[i];
        bool word_start = i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t';
        if (starts(s, i, n, l->line_comment) && (!l->hash_at_word || word_start)) {
            paint(cls, i, n, HL_COMMENT);
            return;
        }
        if (starts(s, i, n, l->block_open)) {
            bool closed;
            size_t e = block_end(l, s, i + strlen(l->block_open), n, &closed);
            paint(cls, i, e, HL_COMMENT);
            if (!closed) { *state = ST_BLOCK; return; }
            i = e;
        } else if (strchr(l->quotes, c) && c) {
            i = hl_string(l, state, s, i, n, cls);
            if (*state != ST_CODE) return;
        } else if (c >= '0' && c <= '9' && (i == 0 || !ident_char(s[i - 1]))) {
            i = hl_number(s, i, n, cls);
        } else if (c == '-' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9' && (i == 0 || !ident_char(s[i - 1]))) {
            cls[i] = HL_NUMBER;
            i = hl_number(s, i + 1, n, cls);
        } else if (l->directives && c == '#' && line_start) {
            size_t e = i + 1;
            while (e < n && ident_char(s[e])) e++;
            paint(cls, i, e, HL_KEYWORD);
            i = e;
        } else if (ident_char(c) && !(c >= '0' && c <= '9')) {
            size_t e = i;
            while (e < n && ident_char(s[e])) e++;
            if (in_list(l->keywords, s + i, e - i)) paint(cls, i, e, HL_KEYWORD);
            i = e;
        } else {
            i++;
        }
        if (c != ' ' && c != '\t') line_start = false;
    }
}
