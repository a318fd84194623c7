/* model_stats.c — numbers about a loaded model that benchmarks and the UI
 * report, computed from the weight views (no data is read). */
#include <stdlib.h>

#include "model.h"
#include "../backends/backend.h"

/* Bytes of one weight matrix in its stored type. */
static uint64_t weight_bytes(const pl_weight *w)
{
    if (!w->data) return 0;
    return (uint64_t)pl_row_size(w->type, w->cols) * (uint64_t)w->rows;
}

/* Bytes of the matrices in the CPU's 16-row layout. */
uint64_t pl_model_repacked_bytes(const pl_model *m)
{
    uint64_t total = m->output.layout == PL_LAYOUT_R16 ? weight_bytes(&m->output) : 0;
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const pl_layer *l = &m->layers[i];
        const pl_weight *ws[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
            if (ws[k]->layout == PL_LAYOUT_R16) total += weight_bytes(ws[k]);
    }
    return total;
}

/* The matrices and norms a decode step reads whole, in the order it reads
 * them (every layer's, then the output's); out holds model_token_weights_max
 * entries. Returns how many (absent optional tensors are left out). */
int model_token_weights_max(const pl_model *m) { return 9 * (int)m->hp.n_layer + 2; }

int model_token_weights(const pl_model *m, const pl_weight **out)
{
    int n = 0;
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const pl_layer *l = &m->layers[i];
        const pl_weight *ws[] = {&l->attn_norm, &l->wq, &l->wk, &l->wv, &l->wo,
                                 &l->ffn_norm, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
            if (ws[k]->data) out[n++] = ws[k];
    }
    if (m->output_norm.data) out[n++] = &m->output_norm;
    if (m->output.data) out[n++] = &m->output;
    return n;
}

/* Bytes of one weight matrix in its stored type (model.h). */
uint64_t model_weight_bytes(const pl_weight *w) { return weight_bytes(w); }

/* Weight bytes a decode step must stream: every layer matrix, the norms and
 * the output matrix; the embedding table only contributes the one row that is
 * gathered (unless it doubles as the output matrix, counted once there). */
uint64_t pl_model_weight_bytes_per_token(const pl_model *m)
{
    const pl_weight **ws = malloc(sizeof *ws * (size_t)model_token_weights_max(m));
    if (!ws) return 0;
    uint64_t total = 0;
    for (int i = 0, n = model_token_weights(m, ws); i < n; i++) total += weight_bytes(ws[i]);
    free(ws);
    if (m->tok_embd.data != m->output.data)
        total += pl_row_size(m->tok_embd.type, m->tok_embd.cols);
    return total;
}
