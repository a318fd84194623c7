/* models.c — `parley models`: the GGUF models found on this machine, as a table.
 *
 * The catalog (engine/catalog.c) does the finding and judging; this file only
 * lays the entries out. Columns are sized to their widest cell so the table
 * reads well in a terminal and stays easy to cut/awk in a script. Entries
 * parley cannot run keep their row, with the reason in the last column, so a
 * user sees why a model they know they have is not offered in the picker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "cmd.h"

enum { COL_NAME, COL_SOURCE, COL_ARCH, COL_PARAMS, COL_QUANT, COL_SIZE, COL_CTX, COL_FITS, N_COLS };

static const char *const col_titles[N_COLS] = {
    "NAME", "SOURCE", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX", "FITS",
};

typedef char models_row[N_COLS][64];

/* One entry as the table's cells ("-" where the header could not be read). */
static void models_cells(const pl_model_entry *e, models_row cells)
{
    char buf[32];
    snprintf(cells[COL_SOURCE], 64, "%s", e->source);
    snprintf(cells[COL_ARCH], 64, "%s", e->arch[0] ? e->arch : "-");
    snprintf(cells[COL_PARAMS], 64, "%s", e->n_params ? pl_catalog_fmt_params(e->n_params, buf, sizeof buf) : "-");
    snprintf(cells[COL_QUANT], 64, "%s", e->quant[0] ? e->quant : "-");
    snprintf(cells[COL_SIZE], 64, "%s", e->file_size ? pl_catalog_fmt_size(e->file_size, buf, sizeof buf) : "-");
    if (e->n_ctx_train) snprintf(cells[COL_CTX], 64, "%u", e->n_ctx_train);
    else snprintf(cells[COL_CTX], 64, "-");
    snprintf(cells[COL_FITS], 64, "%s", !e->mem_need ? "-" : e->fits_ram ? "yes" : "no");
    cells[COL_NAME][0] = 0;   /* the name is printed whole, not from a 64-byte cell */
}

/* Write one line without trailing blanks; names, paths and reasons come from
 * file names and GGUF headers, so the line is made safe for the terminal. */
static void models_put_line(FILE *out, char *line)
{
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ') line[--n] = 0;
    cmd_term_line(out, line);
    fputc('\n', out);
}

/* Print the table; the name column is as wide as the longest name, NOTE only when needed. */
static void models_print(FILE *out, const pl_model_entry *v, int n, bool verbose)
{
    models_row *rows = calloc((size_t)n, sizeof *rows);
    int width[N_COLS];
    bool any_note = false;
    for (int c = 0; c < N_COLS; c++) width[c] = (int)strlen(col_titles[c]);
    for (int i = 0; i < n && rows; i++) {
        if ((int)strlen(v[i].display) > width[COL_NAME]) width[COL_NAME] = (int)strlen(v[i].display);
        models_cells(&v[i], rows[i]);
        for (int c = 1; c < N_COLS; c++)
            if ((int)strlen(rows[i][c]) > width[c]) width[c] = (int)strlen(rows[i][c]);
        any_note |= !v[i].supported;
    }
    char line[2048];
    int len = 0;
    for (int c = 0; c < N_COLS; c++)
        len += snprintf(line + len, sizeof line - (size_t)len, "%-*s  ", width[c], col_titles[c]);
    snprintf(line + len, sizeof line - (size_t)len, "%s", any_note ? "NOTE" : "");
    models_put_line(out, line);
    for (int i = 0; i < n && rows; i++) {
        len = snprintf(line, sizeof line, "%-*s  ", width[COL_NAME], v[i].display);
        for (int c = 1; c < N_COLS && len < (int)sizeof line; c++)
            len += snprintf(line + len, sizeof line - (size_t)len, "%-*s  ", width[c], rows[i][c]);
        if (len < (int)sizeof line && !v[i].supported)
            snprintf(line + len, sizeof line - (size_t)len, "unsupported: %s", v[i].reason);
        models_put_line(out, line);
        if (verbose) cmd_term_printf(out, false, "    %s\n", v[i].path);
    }
    if (!rows) fprintf(stderr, "parley models: out of memory\n");
    free(rows);
}

/* Nothing found: say where we looked and how to get the default model. */
static void models_print_none(FILE *out, const pl_config *cfg)
{
    pl_catalog_root roots[PL_CATALOG_MAX_ROOTS];
    int n = pl_catalog_roots(cfg->models_dir, cfg->model_paths, roots, PL_CATALOG_MAX_ROOTS);
    fprintf(out, "No GGUF models found. Looked in:\n");
    for (int i = 0; i < n; i++)
        cmd_term_printf(out, false, "  %-10s %s%s\n", roots[i].source, roots[i].dir,
                roots[i].exists ? "" : "  (does not exist)");
    fprintf(out, "\nGet the default model (SmolLM2-135M-Instruct, ~94 MiB) with `make model`,\n"
                 "put .gguf files in the first folder, or add folders with --model-paths DIR:DIR.\n");
}

/* --names: the names -m takes, one a line, for scripts and shell completion.
 * Models parley cannot run are left out, and so are names holding control
 * characters (a file name is not ours: it never reaches a terminal raw). */
static void models_print_names(FILE *out, const pl_model_entry *v, int n)
{
    for (int i = 0; i < n; i++) {
        bool plain = v[i].supported;
        for (const unsigned char *p = (const unsigned char *)v[i].display; plain && *p; p++)
            plain = *p >= 0x20 && *p != 0x7f;
        if (plain) fprintf(out, "%s\n", v[i].display);
    }
}

int cmd_models(int argc, char **argv)
{
    pl_config cfg;
    char err[256];
    int first = argc;
    config_init(&cfg);
    if (config_load(&cfg, argc, argv, &first, err, sizeof err) != 0) {
        cmd_term_printf(stderr, false, "parley models: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (argv[first]) {
        cmd_term_printf(stderr, false, "parley models: unexpected argument '%s' (see parley models --help)\n", argv[first]);
        config_free(&cfg);
        return 2;
    }
    pl_model_entry *v = NULL;
    pl_status st;
    int n = pl_catalog_scan(cfg.models_dir, cfg.model_paths, &v, &st);
    int rc = 0;
    if (n < 0) {
        cmd_term_printf(stderr, false, "parley models: %s\n", st.msg);
        rc = 1;
    } else if (cfg.names) {
        models_print_names(stdout, v, n);
    } else if (n == 0) {
        models_print_none(stdout, &cfg);
    } else {
        models_print(stdout, v, n, cfg.verbose);
    }
    pl_catalog_free(v);
    config_free(&cfg);
    return rc;
}
