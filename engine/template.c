/* template.c — chat templates: recognise a GGUF's tokenizer.chat_template, render a chat.
 *
 * Why no Jinja: like llama.cpp's llama_chat_apply_template, we do not interpret
 * the Jinja text. We recognise the model family by distinctive substrings (the
 * detection table, first match wins, same order as llama.cpp) and write the
 * family's format from a table of role prefixes/suffixes. Output is byte for
 * byte what llama.cpp's built-in renderer writes (tests/fixtures/templates/,
 * recorded from llama-cpp-python by scripts/gen-template-fixtures.py).
 *
 * Consequences worth knowing (all shared with llama.cpp's built-in path):
 *  - Defaults baked into a Jinja text are not applied. SmolLM2's template adds
 *    "You are a helpful AI assistant named SmolLM, ..." when no system message is
 *    given; we (and llama.cpp without --jinja) render plain ChatML without it.
 *  - No BOS text is written at the start: the tokenizer adds BOS (add_special).
 *  - Families without a system role get it merged: Gemma and Orion put the
 *    system text at the start of the next user turn; Llama 2 puts it (inside
 *    <<SYS>> where supported) in the first [INST].
 * An unknown template falls back to ChatML and says so in the status message;
 * a caller-given name that is not built in is an error listing valid names.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "template.h"

/* ---- the format table ---------------------------------------------------- */

enum { P_TRIM = 1, P_DROP = 2 };   /* per-role flags */

/* How one role's message is written: pre + content + post. "%r" in pre is
 * replaced by the message's role name. */
typedef struct tmpl_part {
    const char *pre, *post;
    unsigned flags;
} tmpl_part;

enum {
    T_TRIM = 1,          /* trim ASCII whitespace around every message */
    T_MERGE_SYS = 2,     /* no system role: system text opens the next user turn */
    T_BOS_SEP = 4,       /* "<s>" before every message but the first (Monarch) */
    T_GEN_LAST_USER = 8, /* generation prompt after a final user turn, always (RWKV) */
    T_SYS_FIRST = 16,    /* only a leading system message is kept (GigaChat) */
    T_L2_SYS = 32, T_L2_BOS = 64, T_L2_STRIP = 128,   /* Llama 2 variants */
    T_MI_LEAD = 256, T_MI_TRAIL = 512, T_MI_TRIM = 1024 /* Mistral v1/v3 variants */
};

typedef struct tmpl_def tmpl_def;
typedef struct tmpl_out { char *buf; size_t cap, len; } tmpl_out;
typedef void (*tmpl_fn)(const tmpl_def *d, const pl_chat_msg *m, int n, bool add_gen, tmpl_out *o);

struct tmpl_def {
    const char *name;
    tmpl_fn     render;
    unsigned    flags;
    const char *begin;        /* written once at the start */
    const char *gen;          /* generation prompt (add_gen) */
    const char *default_sys;  /* system text used when the chat has none */
    tmpl_part   any;          /* roles without their own part; unset = dropped */
    tmpl_part   sys, user, asst;
};

static void render_generic(const tmpl_def *, const pl_chat_msg *, int, bool, tmpl_out *);
static void render_llama2(const tmpl_def *, const pl_chat_msg *, int, bool, tmpl_out *);
static void render_mistral(const tmpl_def *, const pl_chat_msg *, int, bool, tmpl_out *);

#define G render_generic
#define EOS_DS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"  /* <｜end▁of▁sentence｜> */
#define HY(s) "<\xef\xbd\x9c" s "\xef\xbd\x9c>"                                   /* <｜...｜> */
#define HY_PH(d) HY("hy_place\xe2\x96\x81holder\xe2\x96\x81no\xe2\x96\x81" d)

static const tmpl_def TMPL[] = {
    { "chatml", G, 0, .gen = "<|im_start|>assistant\n", .any = { "<|im_start|>%r\n", "<|im_end|>\n", 0 } },
    { "llama2", render_llama2, .flags = 0 },
    { "llama2-sys", render_llama2, .flags = T_L2_SYS },
    { "llama2-sys-bos", render_llama2, .flags = T_L2_SYS | T_L2_BOS },
    { "llama2-sys-strip", render_llama2, .flags = T_L2_SYS | T_L2_STRIP },
    { "mistral-v1", render_mistral, .flags = T_MI_LEAD | T_MI_TRAIL },
    { "mistral-v3", render_mistral, .flags = T_MI_TRAIL | T_MI_TRIM },
    { "mistral-v3-tekken", render_mistral, .flags = 0 },
    { "mistral-v7", G, 0, .sys = { "[SYSTEM_PROMPT] ", "[/SYSTEM_PROMPT]", 0 },
      .user = { "[INST] ", "[/INST]", 0 }, .any = { " ", "</s>", 0 } },
    { "mistral-v7-tekken", G, 0, .sys = { "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", 0 },
      .user = { "[INST]", "[/INST]", 0 }, .any = { "", "</s>", 0 } },
    { "phi3", G, 0, .gen = "<|assistant|>\n", .any = { "<|%r|>\n", "<|end|>\n", 0 } },
    { "phi4", G, 0, .gen = "<|im_start|>assistant<|im_sep|>", .any = { "<|im_start|>%r<|im_sep|>", "<|im_end|>", 0 } },
    { "falcon3", G, 0, .gen = "<|assistant|>\n", .any = { "<|%r|>\n", "\n", 0 } },
    { "zephyr", G, 0, .gen = "<|assistant|>\n", .any = { "<|%r|>\n", "<|endoftext|>\n", 0 } },
    { "monarch", G, T_BOS_SEP, .gen = "<s>assistant\n", .any = { "%r\n", "</s>\n", 0 } },
    { "gemma", G, T_TRIM | T_MERGE_SYS, .gen = "<start_of_turn>model\n",
      .any = { "<start_of_turn>%r\n", "<end_of_turn>\n", 0 }, .asst = { "<start_of_turn>model\n", "<end_of_turn>\n", 0 } },
    { "orion", G, T_MERGE_SYS, .user = { "Human: ", "\n\nAssistant: </s>", 0 }, .any = { "", "</s>", 0 } },
    { "openchat", G, 0, .gen = "GPT4 Correct Assistant:", .sys = { "", "<|end_of_turn|>", 0 },
      .user = { "GPT4 Correct User: ", "<|end_of_turn|>", 0 }, .asst = { "GPT4 Correct Assistant: ", "<|end_of_turn|>", 0 } },
    { "vicuna", G, 0, .gen = "ASSISTANT:", .sys = { "", "\n\n", 0 },
      .user = { "USER: ", "\n", 0 }, .asst = { "ASSISTANT: ", "</s>\n", 0 } },
    { "vicuna-orca", G, 0, .gen = "ASSISTANT:", .sys = { "SYSTEM: ", "\n", 0 },
      .user = { "USER: ", "\n", 0 }, .asst = { "ASSISTANT: ", "</s>\n", 0 } },
    { "deepseek", G, 0, .gen = "### Response:\n", .sys = { "", "", 0 },
      .user = { "### Instruction:\n", "\n", 0 }, .asst = { "### Response:\n", "\n<|EOT|>\n", 0 } },
    { "deepseek2", G, 0, .gen = "Assistant:", .sys = { "", "\n\n", 0 },
      .user = { "User: ", "\n\n", 0 }, .asst = { "Assistant: ", EOS_DS, 0 } },
    { "deepseek3", G, 0, .gen = "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>", .sys = { "", "\n\n", 0 },
      .user = { "<\xef\xbd\x9cUser\xef\xbd\x9c>", "", 0 }, .asst = { "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>", EOS_DS, 0 } },
    { "deepseek-ocr", G, 0, .any = { "", "", 0 } },
    { "command-r", G, T_TRIM, .gen = "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
      .sys = { "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|END_OF_TURN_TOKEN|>", 0 },
      .user = { "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "<|END_OF_TURN_TOKEN|>", 0 },
      .asst = { "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", "<|END_OF_TURN_TOKEN|>", 0 } },
    { "llama3", G, T_TRIM, .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n",
      .any = { "<|start_header_id|>%r<|end_header_id|>\n\n", "<|eot_id|>", 0 } },
    { "chatglm3", G, 0, .begin = "[gMASK]sop", .gen = "<|assistant|>", .any = { "<|%r|>\n ", "", 0 } },
    { "chatglm4", G, 0, .begin = "[gMASK]<sop>", .gen = "<|assistant|>\n", .any = { "<|%r|>\n", "", 0 } },
    { "glmedge", G, 0, .gen = "<|assistant|>", .any = { "<|%r|>\n", "", 0 } },
    { "minicpm", G, T_TRIM, .user = { "<\xe7\x94\xa8\xe6\x88\xb7>", "<AI>", 0 }, .any = { "", "", 0 } },
    { "exaone3", G, T_TRIM, .gen = "[|assistant|]", .sys = { "[|system|]", "[|endofturn|]\n", 0 },
      .user = { "[|user|]", "\n", 0 }, .asst = { "[|assistant|]", "[|endofturn|]\n", 0 } },
    { "exaone4", G, T_TRIM, .gen = "[|assistant|]", .sys = { "[|system|]", "[|endofturn|]\n", 0 },
      .user = { "[|user|]", "\n", 0 }, .asst = { "[|assistant|]", "[|endofturn|]\n", 0 } },
    { "exaone-moe", G, T_TRIM, .gen = "<|assistant|>\n", .any = { "<|%r|>\n", "<|endofturn|>\n", 0 } },
    { "rwkv-world", G, T_TRIM | T_GEN_LAST_USER, .gen = "Assistant:", .sys = { "System: ", "\n\n", 0 },
      .user = { "User: ", "\n\n", 0 }, .asst = { "Assistant: ", "\n\n", 0 } },
    { "granite", G, 0, .gen = "<|start_of_role|>assistant<|end_of_role|>",
      .any = { "<|start_of_role|>%r<|end_of_role|>", "<|end_of_text|>\n", 0 } },
    { "granite-4.0", G, 0, .gen = "<|start_of_role|>assistant<|end_of_role|>",
      .any = { "<|start_of_role|>%r<|end_of_role|>", "<|end_of_text|>\n", 0 } },
    { "granite-4.1", G, 0, .gen = "<|start_of_role|>assistant<|end_of_role|>",
      .any = { "<|start_of_role|>%r<|end_of_role|>", "<|end_of_text|>\n", 0 } },
    { "gigachat", G, T_SYS_FIRST, .begin = "<s>", .gen = "assistant<|role_sep|>", .sys = { "", "<|message_sep|>", 0 },
      .user = { "user<|role_sep|>", "<|message_sep|>available functions<|role_sep|>[]<|message_sep|>", 0 },
      .asst = { "assistant<|role_sep|>", "<|message_sep|>", 0 } },
    { "megrez", G, 0, .gen = "<|role_start|>assistant<|role_end|>", .any = { "<|role_start|>%r<|role_end|>", "<|turn_end|>", 0 } },
    { "yandex", G, 0, .gen = " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82:[SEP]",
      .sys = { NULL, NULL, P_DROP },
      .user = { " \xd0\x9f\xd0\xbe\xd0\xbb\xd1\x8c\xd0\xb7\xd0\xbe\xd0\xb2\xd0\xb0\xd1\x82\xd0\xb5\xd0\xbb\xd1\x8c: ", "\n\n", 0 },
      .asst = { " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82: ", "\n\n", 0 } },
    { "bailing", G, 0, .gen = "<role>ASSISTANT</role>", .sys = { "<role>SYSTEM</role>", "", 0 },
      .user = { "<role>HUMAN</role>", "", 0 }, .asst = { "<role>ASSISTANT</role>", "", 0 } },
    { "bailing-think", G, 0, .gen = "<role>ASSISTANT</role><think>", .sys = { "<role>SYSTEM</role>", "", 0 },
      .user = { "<role>HUMAN</role>", "", 0 }, .asst = { "<role>ASSISTANT</role>", "", 0 } },
    { "bailing2", G, 0, .gen = "<role>ASSISTANT</role>", .default_sys = "detailed thinking off",
      .sys = { "<role>SYSTEM</role>", "<|role_end|>", 0 }, .user = { "<role>HUMAN</role>", "<|role_end|>", 0 },
      .asst = { "<role>ASSISTANT</role>", "<|role_end|>", 0 } },
    { "llama4", G, T_TRIM, .gen = "<|header_start|>assistant<|header_end|>\n\n",
      .any = { "<|header_start|>%r<|header_end|>\n\n", "<|eot|>", 0 } },
    { "smolvlm", G, 0, .begin = "<|im_start|>", .gen = "Assistant:", .sys = { "", "\n\n", 0 },
      .user = { "User: ", "<end_of_utterance>\n", 0 }, .any = { "Assistant: ", "<end_of_utterance>\n", 0 } },
    { "hunyuan-moe", G, 0, .sys = { "<|startoftext|>", "<|extra_4|>", 0 }, .asst = { "", "<|eos|>", 0 },
      .any = { "<|startoftext|>", "<|extra_0|>", 0 } },
    { "hunyuan-dense", G, T_SYS_FIRST, .sys = { "", HY_PH("3"), 0 }, .user = { HY("hy_User"), HY("hy_Assistant"), 0 },
      .asst = { HY("hy_Assistant"), HY_PH("2"), 0 } },
    { "hunyuan-vl", G, T_SYS_FIRST, .begin = HY("hy_begin\xe2\x96\x81of\xe2\x96\x81sentence"), .sys = { "", HY_PH("3"), 0 },
      .user = { "", HY("hy_User"), 0 }, .asst = { "", HY("hy_Assistant"), 0 } },
    { "gpt-oss", G, 0, .gen = "<|start|>assistant", .any = { "<|start|>%r<|message|>", "<|end|>", 0 },
      .asst = { "<|start|>assistant<|message|>", "<|return|>", 0 } },
    { "kimi-k2", G, 0, .gen = "<|im_assistant|>assistant<|im_middle|>", .any = { "<|im_%r|>%r<|im_middle|>", "<|im_end|>", 0 } },
    { "seed_oss", G, 0, .gen = "<seed:bos>assistant\n", .any = { "<seed:bos>%r\n", "<seed:eos>", 0 },
      .asst = { "<seed:bos>assistant\n", "<seed:eos>", P_TRIM } },
    { "grok-2", G, 0, .gen = "Assistant:", .sys = { "System: ", "<|separator|>\n\n", P_TRIM },
      .user = { "Human: ", "<|separator|>\n\n", P_TRIM }, .asst = { "Assistant: ", "<|separator|>\n\n", 0 } },
    { "pangu-embedded", G, 0, .default_sys = "", .gen = "[unused9]\xe5\x8a\xa9\xe6\x89\x8b\xef\xbc\x9a",
      .sys = { "[unused9]\xe7\xb3\xbb\xe7\xbb\x9f\xef\xbc\x9a", "[unused10]", 0 },
      .user = { "[unused9]\xe7\x94\xa8\xe6\x88\xb7\xef\xbc\x9a", "[unused10]", 0 },
      .asst = { "[unused9]\xe5\x8a\xa9\xe6\x89\x8b\xef\xbc\x9a", "[unused10]", 0 } },
    { "solar-open", G, 0, .gen = "<|begin|>assistant", .any = { "<|begin|>%r<|content|>", "<|end|>", 0 } },
};
#define TMPL_N ((int)(sizeof TMPL / sizeof TMPL[0]))

/* ---- detection table: first row whose substrings all occur wins --------- */

typedef struct tmpl_detect_row { const char *name; const char *all[3]; } tmpl_detect_row;

static const tmpl_detect_row DETECT[] = {
    { "phi4", { "<|im_start|>", "<|im_sep|>" } },
    { "smolvlm", { "<|im_start|>", "<end_of_utterance>" } },
    { "chatml", { "<|im_start|>" } },
    { "mistral-v7", { "[INST]", "[SYSTEM_PROMPT]" } },
    { "mistral-v1", { "[INST]", "' [INST] ' + system_message" } },
    { "mistral-v1", { "[INST]", "[AVAILABLE_TOOLS]", " [INST]" } },
    { "mistral-v3-tekken", { "[INST]", "[AVAILABLE_TOOLS]", "\"[INST]\"" } },
    { "mistral-v3", { "[INST]", "[AVAILABLE_TOOLS]" } },
    { "llama2-sys-strip", { "[INST]", "content.strip()" } },
    { "llama2-sys-bos", { "[INST]", "bos_token + '[INST]" } },
    { "llama2-sys", { "[INST]", "<<SYS>>" } },
    { "llama2", { "[INST]" } },
    { "phi3", { "<|assistant|>", "<|end|>" } },
    { "chatglm4", { "[gMASK]<sop>" } },
    { "falcon3", { "<|assistant|>", "<|user|>", "</s>" } },
    { "glmedge", { "<|assistant|>", "<|user|>" } },
    { "glmedge", { "<|{{ item['role'] }}|>", "<|begin_of_image|>" } },
    { "zephyr", { "<|user|>", "<|endoftext|>" } },
    { "monarch", { "bos_token + message['role']" } },
    { "gemma", { "<start_of_turn>" } },
    { "orion", { "'\\n\\nAssistant: ' + eos_token" } },
    { "openchat", { "GPT4 Correct " } },
    { "vicuna-orca", { "USER: ", "ASSISTANT: ", "SYSTEM: " } },
    { "vicuna", { "USER: ", "ASSISTANT: " } },
    { "deepseek", { "### Instruction:", "<|EOT|>" } },
    { "command-r", { "<|START_OF_TURN_TOKEN|>", "<|USER_TOKEN|>" } },
    { "llama3", { "<|start_header_id|>", "<|end_header_id|>" } },
    { "chatglm3", { "[gMASK]sop" } },
    { "minicpm", { "<\xe7\x94\xa8\xe6\x88\xb7>" } },
    { "deepseek2", { "'Assistant: ' + message['content'] + eos_token" } },
    { "deepseek3", { "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>", "<\xef\xbd\x9cUser\xef\xbd\x9c>", EOS_DS } },
    { "exaone4", { "[|system|]", "[|assistant|]", "[|tool|]" } },
    { "exaone3", { "[|system|]", "[|assistant|]", "[|endofturn|]" } },
    { "rwkv-world", { "rwkv-world" } },
    { "rwkv-world", { "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}" } },
    { "granite", { "<|start_of_role|>" } },
    { "gigachat", { "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]" } },
    { "megrez", { "<|role_start|>" } },
    { "yandex", { " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82:" } },
    { "bailing", { "<role>ASSISTANT</role>", "'HUMAN'" } },
    { "llama4", { "<|header_start|>", "<|header_end|>" } },
    { "hunyuan-moe", { "<|extra_0|>", "<|extra_4|>" } },
    { "gpt-oss", { "<|start|>", "<|channel|>" } },
    { "hunyuan-dense", { HY("hy_Assistant"), HY_PH("3") } },
    { "kimi-k2", { "<|im_assistant|>assistant<|im_middle|>" } },
    { "seed_oss", { "<seed:bos>" } },
};

/* Template id for a built-in name; TMPL_UNKNOWN if none. */
int tmpl_from_name(const char *name)
{
    if (!name) return TMPL_UNKNOWN;
    for (int i = 0; i < TMPL_N; i++)
        if (strcmp(TMPL[i].name, name) == 0) return i;
    return TMPL_UNKNOWN;
}

/* First detection row whose markers all occur in the text; exact names first. */
int tmpl_detect(const char *jinja)
{
    if (!jinja) return TMPL_UNKNOWN;
    int id = tmpl_from_name(jinja);
    if (id != TMPL_UNKNOWN) return id;
    bool mistral = strncmp(jinja, "mistral", 7) == 0;   /* llama.cpp: counts as "[INST]" */
    for (size_t r = 0; r < sizeof DETECT / sizeof DETECT[0]; r++) {
        bool all = true;
        for (int k = 0; k < 3 && DETECT[r].all[k] && all; k++)
            all = strstr(jinja, DETECT[r].all[k]) != NULL
                  || (mistral && strcmp(DETECT[r].all[k], "[INST]") == 0);
        if (all) return tmpl_from_name(DETECT[r].name);
    }
    return TMPL_UNKNOWN;
}

/* Name of a template id, NULL if out of range. */
const char *tmpl_name(int id)
{
    return id >= 0 && id < TMPL_N ? TMPL[id].name : NULL;
}

/* How many built-in templates exist. */
int tmpl_count(void) { return TMPL_N; }

/* ---- output helpers -------------------------------------------------------- */

/* Append n bytes, counting what does not fit so the caller learns the size. */
static void out_put(tmpl_out *o, const char *s, size_t n)
{
    if (o->len + 1 < o->cap) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

/* Append a C string (NULL writes nothing). */
static void out_str(tmpl_out *o, const char *s) { if (s) out_put(o, s, strlen(s)); }

/* llama.cpp trims with isspace() in the C locale: space, \t \n \v \f \r. */
static bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Content, optionally without surrounding ASCII whitespace. */
static void out_content(tmpl_out *o, const char *s, bool trim)
{
    size_t a = 0, b = strlen(s);
    if (trim) {
        while (a < b && is_ascii_space(s[a])) a++;
        while (b > a && is_ascii_space(s[b - 1])) b--;
    }
    out_put(o, s + a, b - a);
}

/* A prefix pattern with each "%r" replaced by the role name. */
static void out_pattern(tmpl_out *o, const char *pat, const char *role)
{
    if (!pat) return;
    for (const char *p = pat; *p;) {
        const char *q = strstr(p, "%r");
        if (!q) { out_str(o, p); return; }
        out_put(o, p, (size_t)(q - p));
        out_str(o, role);
        p = q + 2;
    }
}

/* ---- renderers ------------------------------------------------------------- */

/* A part the table filled in (an unset part means "use .any"). */
static bool part_set(const tmpl_part *p) { return p->pre || p->post || p->flags; }

/* The part that writes a message of this role (NULL: the role is dropped). */
static const tmpl_part *def_part(const tmpl_def *d, const char *role)
{
    const tmpl_part *p = NULL;
    if (strcmp(role, "system") == 0) p = &d->sys;
    else if (strcmp(role, "user") == 0) p = &d->user;
    else if (strcmp(role, "assistant") == 0) p = &d->asst;
    if (!p || !part_set(p)) p = &d->any;
    if (!part_set(p) || (p->flags & P_DROP)) return NULL;
    return p;
}

/* Write system messages [from, to) as one merged block followed by "\n\n". */
static void out_merged_sys(const tmpl_def *d, const pl_chat_msg *m, int from, int to, tmpl_out *o)
{
    size_t before = o->len;
    for (int i = from; i < to; i++)
        if (strcmp(m[i].role, "system") == 0) out_content(o, m[i].content, d->flags & T_TRIM);
    if (o->len != before) out_str(o, "\n\n");
}

/* One message through its role's part. */
static void out_message(const tmpl_def *d, const tmpl_part *p, const pl_chat_msg *msg, tmpl_out *o)
{
    out_pattern(o, p->pre, msg->role);
    out_content(o, msg->content, (d->flags & T_TRIM) || (p->flags & P_TRIM));
    out_str(o, p->post);
}

/* The table-driven formats: begin, per-role prefix/content/suffix, generation prompt. */
static void render_generic(const tmpl_def *d, const pl_chat_msg *m, int n, bool add_gen, tmpl_out *o)
{
    out_str(o, d->begin);
    if (d->default_sys && (n == 0 || strcmp(m[0].role, "system") != 0)) {
        pl_chat_msg sys = { "system", d->default_sys };
        out_message(d, &d->sys, &sys, o);
    }
    int sys_from = 0;   /* T_MERGE_SYS: system messages not yet written */
    for (int i = 0; i < n; i++) {
        bool is_sys = strcmp(m[i].role, "system") == 0;
        if (is_sys && ((d->flags & T_MERGE_SYS) || ((d->flags & T_SYS_FIRST) && i > 0))) continue;
        const tmpl_part *p = def_part(d, m[i].role);
        if (!p) continue;
        if (d->flags & T_BOS_SEP && i > 0) out_str(o, "<s>");
        if ((d->flags & T_MERGE_SYS) && strcmp(m[i].role, "assistant") != 0) {
            out_pattern(o, p->pre, m[i].role);
            out_merged_sys(d, m, sys_from, i, o);
            sys_from = i + 1;
            out_content(o, m[i].content, (d->flags & T_TRIM) || (p->flags & P_TRIM));
            out_str(o, p->post);
            continue;
        }
        out_message(d, p, &m[i], o);
    }
    bool last_user = n > 0 && strcmp(m[n - 1].role, "user") == 0;
    if (d->flags & T_GEN_LAST_USER ? last_user : add_gen) out_str(o, d->gen);
}

/* Llama 2: "[INST] " opens a turn, a system message sits inside the first one. */
static void render_llama2(const tmpl_def *d, const pl_chat_msg *m, int n, bool add_gen, tmpl_out *o)
{
    bool strip = d->flags & T_L2_STRIP, inside = true;
    out_str(o, "[INST] ");
    for (int i = 0; i < n; i++) {
        if (!inside) {
            out_str(o, d->flags & T_L2_BOS ? "<s>[INST] " : "[INST] ");
            inside = true;
        }
        if (strcmp(m[i].role, "system") == 0) {
            out_str(o, d->flags & T_L2_SYS ? "<<SYS>>\n" : "");
            out_content(o, m[i].content, strip);
            out_str(o, d->flags & T_L2_SYS ? "\n<</SYS>>\n\n" : "\n");
        } else if (strcmp(m[i].role, "user") == 0) {
            out_content(o, m[i].content, strip);
            out_str(o, " [/INST]");
        } else {
            out_content(o, m[i].content, strip);
            out_str(o, "</s>");
            inside = false;
        }
    }
}

/* Mistral v1/v3/v3-tekken: like Llama 2 with its own spacing, system text then "\n\n". */
static void render_mistral(const tmpl_def *d, const pl_chat_msg *m, int n, bool add_gen, tmpl_out *o)
{
    const char *lead = d->flags & T_MI_LEAD ? " " : "", *trail = d->flags & T_MI_TRAIL ? " " : "";
    bool inside = false;
    for (int i = 0; i < n; i++) {
        if (!inside) {
            out_str(o, lead);
            out_str(o, "[INST]");
            out_str(o, trail);
            inside = true;
        }
        if (strcmp(m[i].role, "system") == 0) {
            out_content(o, m[i].content, false);
            out_str(o, "\n\n");
        } else if (strcmp(m[i].role, "user") == 0) {
            out_content(o, m[i].content, false);
            out_str(o, lead);
            out_str(o, "[/INST]");
        } else {
            out_str(o, trail);
            out_content(o, m[i].content, d->flags & T_MI_TRIM);
            out_str(o, "</s>");
            inside = false;
        }
    }
}

/* Render with a template id; snprintf-like return, -1 on bad id or arguments. */
int tmpl_render(int id, const pl_chat_msg *msgs, int n, bool add_gen, char *buf, int len)
{
    if (id < 0 || id >= TMPL_N || n < 0 || (n > 0 && !msgs) || len < 0 || (len > 0 && !buf))
        return -1;
    for (int i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content) return -1;
    tmpl_out o = { buf, (size_t)len, 0 };
    TMPL[id].render(&TMPL[id], msgs, n, add_gen, &o);
    if (len > 0) buf[o.len < (size_t)len ? o.len : (size_t)len - 1] = 0;
    return o.len > INT_MAX ? -1 : (int)o.len;
}

/* ---- public wrappers (engine.h) -------------------------------------------- */

static const char *tmpl_names[TMPL_N + 1];
static pthread_once_t tmpl_names_once = PTHREAD_ONCE_INIT;

/* Build the NULL-terminated name list once. */
static void tmpl_names_fill(void)
{
    for (int i = 0; i < TMPL_N; i++) tmpl_names[i] = TMPL[i].name;
    tmpl_names[TMPL_N] = NULL;
}

/* NULL-terminated list of built-in template names. */
const char *const *pl_chat_template_list(void)
{
    pthread_once(&tmpl_names_once, tmpl_names_fill);
    return tmpl_names;
}

/* The id to use: the override by name, else the GGUF's, else ChatML with a note. */
static int tmpl_resolve(const pl_model *m, const char *override, pl_status *st)
{
    pl_status_ok(st);
    if (override) {
        int id = tmpl_from_name(override);
        if (id != TMPL_UNKNOWN) return id;
        char names[400];
        size_t k = 0;
        for (int i = 0; i < TMPL_N && k + 24 < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", TMPL[i].name);
        if (k + 24 >= sizeof names) snprintf(names + k, sizeof names - k, ", ...");
        pl_status_set(st, PL_ERR_ARG, "unknown chat template '%.60s'; valid names: %s", override, names);
        return TMPL_UNKNOWN;
    }
    const char *jinja = m ? model_chat_template(m) : NULL;
    int id = tmpl_detect(jinja);
    if (id != TMPL_UNKNOWN) return id;
    if (!jinja && m && model_default_template(m)) return tmpl_from_name(model_default_template(m));
    if (st) {
        st->code = PL_OK;
        if (!jinja && m && model_chat_template_skipped(m))
            snprintf(st->msg, sizeof st->msg, "chat template too large to read (%llu bytes), using chatml; "
                     "override with --chat-template NAME", (unsigned long long)model_chat_template_skipped(m));
        else
            snprintf(st->msg, sizeof st->msg, "%s chat template, using chatml; override with --chat-template NAME",
                     jinja ? "unknown" : "no");
    }
    return tmpl_from_name("chatml");
}

/* Name of the template pl_chat_render would use; NULL for an unknown override. */
const char *pl_chat_template_name(const pl_model *m, const char *tmpl_override)
{
    return tmpl_name(tmpl_resolve(m, tmpl_override, NULL));
}

/* Render a chat with the model's template or a named one (see engine.h). */
int pl_chat_render(const pl_model *m, const char *tmpl_override, const pl_chat_msg *msgs, int n,
                   bool add_generation_prompt, char *buf, int len, pl_status *st)
{
    int id = tmpl_resolve(m, tmpl_override, st);
    if (id == TMPL_UNKNOWN) return -1;
    int r = tmpl_render(id, msgs, n, add_generation_prompt, buf, len);
    if (r < 0) pl_status_set(st, PL_ERR_ARG, "chat render: bad arguments (n=%d, len=%d, or a NULL role/content)", n, len);
    return r;
}
