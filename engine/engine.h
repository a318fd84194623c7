/* engine.h — the public door of parley's inference engine.
 *
 * Everything outside engine/ talks to the engine through this header only
 * (or one of the small doors it gathers, when a file needs only that part):
 *   status.h   pl_status, pl_type          infer.h    models, contexts, decode, sampling
 *   text.h     tokens, templates, UTF-8    catalog.h  the models on this machine
 *   quantize.h `parley quantize`           worker.h   the worker thread and its queues
 *   turn.h     one chat turn (render .. sample .. stop strings), for every front end
 * No call prints, exits or aborts on input: each fallible call fills a
 * pl_status with a code and a message a person can act on.
 */
#ifndef PL_ENGINE_H
#define PL_ENGINE_H

#include "status.h"
#include "infer.h"
#include "text.h"
#include "catalog.h"
#include "quantize.h"
#include "turn.h"
#include "worker.h"

#endif
