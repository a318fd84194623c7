/* quantize.c — `parley quantize IN.gguf OUT.gguf TYPE [-t N]`.
 *
 * The engine (engine/quantize.c) does the work and reports each tensor
 * through a callback; this file parses the arguments, prints one progress
 * line per tensor on stderr and a summary at the end. A wrong TYPE is a usage
 * error (exit 2) listing the valid names; anything that goes wrong reading,
 * converting or writing is exit 1 with the engine's message.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "cmd.h"

typedef struct quantize_ui {
    FILE *err;
    bool  noted_requant;
} quantize_ui;

/* "576x576" or "576" (ne[0] first, as llama.cpp prints shapes). */
static void quantize_shape_fmt(const pl_quant_event *ev, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t d = 0; d < ev->n_dims && d < 4 && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, "%s%llu", d ? "x" : "", (unsigned long long)ev->ne[d]);
}

/* One line per tensor: "[ 12/272] blk.1.attn_q.weight  q4_1 -> q5_0  576x576". */
static void quantize_progress(void *ud, const pl_quant_event *ev)
{
    quantize_ui *ui = ud;
    char shape[96];
    quantize_shape_fmt(ev, shape, sizeof shape);
    if (ev->requantized && !ui->noted_requant) {
        fprintf(ui->err, "note: the input is already quantized; requantizing loses quality "
                         "(start from an F32/F16/BF16 model when you can)\n");
        ui->noted_requant = true;
    }
    const char *from = pl_type_name(ev->from) ? pl_type_name(ev->from) : "?";
    if (!ev->converted) {
        cmd_term_printf(ui->err, false, "[%4d/%4d] %-36s %-5s (kept)     %s\n", ev->index, ev->total, ev->name,
                from, shape);
        return;
    }
    cmd_term_printf(ui->err, false, "[%4d/%4d] %-36s %-5s -> %-5s %s", ev->index, ev->total, ev->name, from,
            pl_type_name(ev->to), shape);
    if (ev->fallback)
        fprintf(ui->err, "  (fallback: rows of %llu do not fit %s blocks)",
                (unsigned long long)ev->ne[0], pl_type_name(ev->wanted));
    fputc('\n', ui->err);
}

/* Usage error with the list of types. */
static int quantize_usage(const char *why)
{
    cmd_term_printf(stderr, false, "parley quantize: %s\nusage: parley quantize IN.gguf OUT.gguf TYPE [-t N]\ntypes:", why);
    for (const char *const *s = pl_quantize_type_names(); *s; s++) fprintf(stderr, " %s", *s);
    fprintf(stderr, "\n");
    return 2;
}

/* The closing summary: sizes, time, counts. */
static void quantize_summary(const char *out, const char *type, const pl_quant_stats *s)
{
    char a[32], b[32], name[16];
    size_t i = 0;
    for (; type[i] && i < sizeof name - 1; i++) name[i] = (char)toupper((unsigned char)type[i]);
    name[i] = 0;
    cmd_term_printf(stderr, false, "parley quantize: wrote %s (%s): %s -> %s (%.1f%%) in %.1f s\n", out, name,
            pl_catalog_fmt_size(s->in_bytes, a, sizeof a), pl_catalog_fmt_size(s->out_bytes, b, sizeof b),
            s->in_bytes ? 100.0 * (double)s->out_bytes / (double)s->in_bytes : 0.0, s->seconds);
    fprintf(stderr, "  %d tensors: %d converted, %d kept", s->n_tensors, s->n_converted, s->n_copied);
    if (s->n_requantized) fprintf(stderr, ", %d requantized", s->n_requantized);
    if (s->n_fallback)
        fprintf(stderr, ", %d fell back to another type (row length not a multiple of the block)",
                s->n_fallback);
    fprintf(stderr, "\n");
}

int cmd_quantize(int argc, char **argv)
{
    pl_config cfg;
    char err[256];
    int first = argc;
    config_init(&cfg);
    if (config_load(&cfg, argc, argv, &first, err, sizeof err) != 0) {
        config_free(&cfg);
        return quantize_usage(err);
    }
    int n_pos = 0;
    while (argv[first + n_pos]) n_pos++;
    int rc = 0;
    if (n_pos != 3) {
        rc = quantize_usage(n_pos < 3 ? "missing arguments" : "too many arguments");
    } else if (!pl_quantize_type_known(argv[first + 2])) {
        snprintf(err, sizeof err, "unknown type '%s'", argv[first + 2]);
        rc = quantize_usage(err);
    } else {
        const char *in = argv[first], *out = argv[first + 1], *type = argv[first + 2];
        quantize_ui ui = { .err = stderr };
        pl_quant_stats stats;
        pl_status st;
        if (pl_quantize_file(in, out, type, cfg.threads, quantize_progress, &ui, &stats, &st) != PL_OK) {
            cmd_term_printf(stderr, false, "parley quantize: %s\n", st.msg);
            rc = 1;
        } else {
            quantize_summary(out, type, &stats);
        }
    }
    config_free(&cfg);
    return rc;
}
