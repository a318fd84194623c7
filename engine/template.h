/* template.h — chat templates inside the engine (internal; the public door is engine.h).
 *
 * The core works on the raw tokenizer.chat_template text so it can be tested
 * without a model: tmpl_detect() recognises a template by its distinctive
 * substrings (as llama.cpp's llm_chat_detect_template does) and tmpl_render()
 * writes a conversation in that format, byte for byte what llama.cpp's built-in
 * llama_chat_apply_template writes (no Jinja is run; see template.c).
 */
#ifndef PL_TEMPLATE_H
#define PL_TEMPLATE_H

#include <stdbool.h>

#include "engine.h"

#define TMPL_UNKNOWN (-1)

/* Template id for a Jinja text (or an exact built-in name); TMPL_UNKNOWN when
 * nothing matches or jinja is NULL. */
int tmpl_detect(const char *jinja);

/* Template id for a built-in name ("chatml", "llama3", ...); TMPL_UNKNOWN if none. */
int tmpl_from_name(const char *name);

/* Name of a template id; NULL for an invalid id. */
const char *tmpl_name(int id);

/* Number of built-in templates (ids are 0 .. tmpl_count()-1). */
int tmpl_count(void);

/* Render msgs with template id into buf (at most len bytes including the NUL,
 * always NUL-terminated when len > 0). Returns the full length the text needs
 * (without NUL), like snprintf, or -1 for a bad id or argument. */
int tmpl_render(int id, const pl_chat_msg *msgs, int n, bool add_gen, char *buf, int len);

/* The GGUF's tokenizer.chat_template, or NULL when the file has none
 * (written by the model engineer in engine/model.c). */
const char *model_chat_template(const pl_model *m);
uint64_t model_chat_template_skipped(const pl_model *m);   /* a template too large to read: its size */
/* The architecture's built-in template name when the GGUF has none (gemma3: "gemma"), or NULL. */
const char *model_default_template(const pl_model *m);

#endif
