/* sampler.h — sampler internals shared with the unit tests (public API: engine.h). */
#ifndef PL_SAMPLER_H
#define PL_SAMPLER_H

#include "engine.h"

/* The candidate set the chain keeps before the random draw (penalties, top-k,
 * top-p, min-p applied; temperature does not change the set). Writes the ids
 * into out (room for n_vocab) in the order the draw walks them (best first
 * after top-k; after top-p alone, only the tokens at the cut are sorted).
 * Returns the count, or -1. */
int sampler_candidates(pl_sampler *s, const float *logits, int n_vocab, int32_t *out);

/* The next raw 64-bit value of the sampler's generator (xoshiro256**). */
uint64_t sampler_rng_next(pl_sampler *s);

#endif
