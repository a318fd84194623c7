/* tokenize_api.c — the public token functions of engine.h, as thin wrappers
 * over the model's vocab (model_vocab, provided by model.c). pl_n_vocab lives
 * in model.c: it is the logits width (hp.n_vocab), which is what callers size
 * buffers with; the vocab's own token count is v->n_tokens. */
#include "vocab.h"

int pl_tokenize(const pl_model *m, const char *text, size_t len, int32_t *out, int max,
                bool add_special, bool parse_special)
{
    const pl_vocab *v = m ? model_vocab(m) : NULL;
    return v ? vocab_tokenize(v, text, len, out, max, add_special, parse_special) : -1;
}

int pl_token_to_piece(const pl_model *m, int32_t tok, char *buf, int len, bool special)
{
    const pl_vocab *v = m ? model_vocab(m) : NULL;
    return v ? vocab_token_to_piece(v, tok, buf, len, 0, special) : 0;
}

int pl_detokenize(const pl_model *m, const int32_t *toks, int n, char *buf, int len,
                  bool remove_special, bool unparse_special)
{
    const pl_vocab *v = m ? model_vocab(m) : NULL;
    return v ? vocab_detokenize(v, toks, n, buf, len, remove_special, unparse_special) : 0;
}

int32_t pl_token_bos(const pl_model *m)
{
    const pl_vocab *v = m ? model_vocab(m) : NULL;
    return v ? v->bos : -1;
}

int32_t pl_token_eos(const pl_model *m)
{
    const pl_vocab *v = m ? model_vocab(m) : NULL;
    return v ? v->eos : -1;
}

bool pl_token_is_eog(const pl_model *m, int32_t tok)
{
    const pl_vocab *v = m ? model_vocab(m) : NULL;
    return v && tok >= 0 && tok < v->n_tokens && v->eog[tok];
}
