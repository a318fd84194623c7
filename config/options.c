/* options.c — THE table of parley's options.
 *
 * One row per option: every front end (flags, config file, env, --help, man
 * page, the TUI's /set) reads this table, so adding a knob means adding a row.
 * Keep rows grouped as --help shows them.
 */
#include <float.h>
#include <stddef.h>

#include "config.h"

#define F(field) offsetof(pl_config, field)
#define BIG 2147483647.0

const pl_option pl_options[] = {
    /* name            short env                      kind       default  min   max    choices  field  scope metavar help [live] */
    {"model",            'm', "PARLEY_MODEL",          OPT_STR,  "",      0, 0, NULL, F(model), CFG_ENGINE | CFG_TUI, "PATH",
     "GGUF model: a file, or a name as `parley models` lists it (an Ollama name such as smollm2:135m, a file name "
     "with or without .gguf) (default: the SmolLM2-135M-Instruct model `make model` fetches)", LIVE_NONE},
    {"models-dir",       0,   "PARLEY_MODELS",         OPT_STR,  "",      0, 0, NULL, F(models_dir), CFG_ALL, "DIR",
     "directory of GGUF models (default ~/.local/share/parley/models)", LIVE_NONE},
    {"model-paths",      0,   "PARLEY_MODEL_PATHS",    OPT_STR,  "",      0, 0, NULL, F(model_paths), CFG_TUI | CFG_MODELS, "DIRS",
     "extra ':'-separated directories the model picker scans", LIVE_NONE},
    {"data-dir",         0,   "PARLEY_DATA",           OPT_STR,  "",      0, 0, NULL, F(data_dir), CFG_TUI | CFG_SESSIONS | CFG_RUN, "DIR",
     "where sessions.db and KV snapshots live (default ~/.local/share/parley)", LIVE_NONE},
    {"snapshot-budget",  0,   "PARLEY_SNAPSHOT_BUDGET", OPT_SIZE, "2G",   0, 1e15, NULL, F(snapshot_budget), CFG_TUI, "SIZE",
     "disk space the KV snapshots that make resume instant may take, such as 512M or 2G (0 = no snapshots); "
     "the least recently used are removed first", LIVE_NONE},
    {"threads",          't', "PARLEY_THREADS",        OPT_INT,  "0",     0, 512, NULL, F(threads), CFG_ENGINE | CFG_QUANTIZE, "N",
     "CPU threads (0 = all cores)", LIVE_NOW},
    {"ctx-size",         'c', "PARLEY_CTX_SIZE",       OPT_INT,  "0",     0, 1048576, NULL, F(ctx_size), CFG_ENGINE, "N",
     "context size in tokens (0 = the model's, at most 4096)", LIVE_NEXT_LOAD},
    {"batch-size",       'b', "PARLEY_BATCH_SIZE",     OPT_INT,  "512",   1, 65536, NULL, F(batch_size), CFG_ENGINE, "N",
     "tokens per prompt-processing batch", LIVE_NEXT_LOAD},
    {"n-gpu-layers",     0,   "PARLEY_N_GPU_LAYERS",   OPT_INT,  "0",     0, 1024, NULL, F(n_gpu_layers), CFG_ENGINE, "N",
     "layers to offload to the GPU", LIVE_NOT_YET},
    {"layers-on",        0,   "PARLEY_LAYERS_ON",      OPT_STR,  "",      0, 0, NULL, F(layers_on), CFG_RUN | CFG_BENCH, "BE:A-B",
     "(developer) after loading, put layers A to B on backend BE, such as ref:10-29 (ref: the scalar reference "
     "kernels with their own memory, slow; for testing layer placement); several as ref:0-4,cpu:2-3", LIVE_NONE},
    {"mmap",             0,   "PARLEY_MMAP",           OPT_BOOL, "false", 0, 0, NULL, F(mmap), CFG_ENGINE, NULL,
     "read the weights in place from the file mapping instead of copying them into huge pages "
     "(starts faster and shares memory, generates ~20% slower; files too big for memory are always mapped)", LIVE_NEXT_LOAD},
    {"cache-type-k",     0,   "PARLEY_CACHE_TYPE_K",   OPT_ENUM, "f16",   0, 0, "f16|q8_0|q4_0", F(cache_type_k), CFG_ENGINE, "TYPE",
     "KV cache type for keys", LIVE_CONVERTS},
    {"cache-type-v",     0,   "PARLEY_CACHE_TYPE_V",   OPT_ENUM, "f16",   0, 0, "f16|q8_0|q4_0", F(cache_type_v), CFG_ENGINE, "TYPE",
     "KV cache type for values", LIVE_CONVERTS},
    {"draft-model",      0,   "PARLEY_DRAFT_MODEL",    OPT_STR,  "",      0, 0, NULL, F(draft_model), CFG_GEN, "PATH",
     "draft model for speculative decoding (same vocabulary)", LIVE_NOT_YET},
    {"draft-max",        0,   "PARLEY_DRAFT_MAX",      OPT_INT,  "8",     0, 64, NULL, F(draft_max), CFG_GEN, "N",
     "tokens drafted per step", LIVE_NOT_YET},
    {"context-policy",   0,   "PARLEY_CONTEXT_POLICY", OPT_ENUM, "shift", 0, 0, "shift|stop", F(context_policy), CFG_GEN, "POLICY",
     "when the context is full: drop the oldest turns (shift) or stop", LIVE_NOW},
    {"temp",             0,   "PARLEY_TEMP",           OPT_FLOAT,"0.8",   0, 10, NULL, F(temp), CFG_GEN, "T",
     "sampling temperature (0 = greedy)", LIVE_NOW},
    {"top-k",            0,   "PARLEY_TOP_K",          OPT_INT,  "40",    0, 1000000, NULL, F(top_k), CFG_GEN, "N",
     "keep the N most likely tokens (0 = off)", LIVE_NOW},
    {"top-p",            0,   "PARLEY_TOP_P",          OPT_FLOAT,"0.95",  0, 1, NULL, F(top_p), CFG_GEN, "P",
     "nucleus sampling threshold (1 = off)", LIVE_NOW},
    {"min-p",            0,   "PARLEY_MIN_P",          OPT_FLOAT,"0.05",  0, 1, NULL, F(min_p), CFG_GEN, "P",
     "drop tokens below P x the top probability (0 = off)", LIVE_NOW},
    {"repeat-penalty",   0,   "PARLEY_REPEAT_PENALTY", OPT_FLOAT,"1.0",   0, 10, NULL, F(repeat_penalty), CFG_GEN, "X",
     "penalty for repeated tokens (1 = off)", LIVE_NOW},
    {"repeat-last-n",    0,   "PARLEY_REPEAT_LAST_N",  OPT_INT,  "64",    0, 1048576, NULL, F(repeat_last_n), CFG_GEN, "N",
     "tokens looked back for the penalties", LIVE_NOW},
    {"frequency-penalty",0,   "PARLEY_FREQUENCY_PENALTY", OPT_FLOAT, "0", -2, 2, NULL, F(freq_penalty), CFG_GEN, "X",
     "penalty per earlier occurrence", LIVE_NOW},
    {"presence-penalty", 0,   "PARLEY_PRESENCE_PENALTY", OPT_FLOAT, "0",  -2, 2, NULL, F(presence_penalty), CFG_GEN, "X",
     "penalty for any earlier occurrence", LIVE_NOW},
    {"seed",             's', "PARLEY_SEED",           OPT_I64,  "-1",   -1, 9.2e18, NULL, F(seed), CFG_GEN, "N",
     "random seed (-1 = random); the same seed gives the same text", LIVE_NOW},
    {"n-predict",        'n', "PARLEY_N_PREDICT",      OPT_INT,  "-1",   -1, BIG, NULL, F(n_predict), CFG_RUN | CFG_TUI, "N",
     "tokens to generate at most (-1 = until the end of the answer)", LIVE_NOW},
    {"prompt",           'p', NULL,                    OPT_STR,  "",      0, 0, NULL, F(prompt), CFG_RUN, "TEXT",
     "prompt text (- reads it from stdin; text piped to parley run follows the prompt after a blank line)", LIVE_NONE},
    {"system",           0,   "PARLEY_SYSTEM",         OPT_STR,  "",      0, 0, NULL, F(system), CFG_GEN, "TEXT",
     "system prompt", LIVE_NEXT_MESSAGE},
    {"chat-template",    0,   "PARLEY_CHAT_TEMPLATE",  OPT_STR,  "",      0, 0, NULL, F(chat_template), CFG_GEN, "NAME",
     "override the model's chat template (chatml, llama2, llama3, gemma, mistral, phi3, deepseek, ...)", LIVE_NEXT_MESSAGE},
    {"stop",             0,   NULL,                    OPT_STR,  "",      0, 0, NULL, F(stop), CFG_GEN, "TEXT",
     "stop when TEXT is generated (repeatable)", LIVE_NEXT_MESSAGE},
    {"chat",             0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(chat), CFG_RUN, NULL,
     "send the prompt as one user turn through the chat template", LIVE_NONE},
    {"verbose",          'v', "PARLEY_VERBOSE",        OPT_BOOL, "false", 0, 0, NULL, F(verbose), CFG_ALL, NULL,
     "print model details and speed to stderr", LIVE_NONE},
    {"raw",              0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(raw), CFG_RUN | CFG_SESSIONS, NULL,
     "write model output (run) and stored text (sessions show, export to stdout) byte for byte, terminal "
     "control sequences included; by default control characters show as U+FFFD", LIVE_NONE},
    {"resume",           'r', NULL,                    OPT_STR,  "",      0, 0, NULL, F(resume), CFG_TUI, "ID",
     "resume session ID (alone: pick one from the sessions sidebar)", LIVE_NONE},
    {"continue",         0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(continue_last), CFG_TUI, NULL,
     "resume the most recent session", LIVE_NONE},
    {"format",           0,   NULL,                    OPT_ENUM, "md",    0, 0, "md|json", F(format), CFG_SESSIONS, "FMT",
     "parley sessions export: Markdown or JSON", LIVE_NONE},
    {"output",           'o', NULL,                    OPT_STR,  "",      0, 0, NULL, F(output), CFG_SESSIONS, "FILE",
     "parley sessions export: write to FILE instead of stdout", LIVE_NONE},
    {"force",            0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(force), CFG_SESSIONS, NULL,
     "parley sessions export -o FILE: replace FILE if it exists (a symbolic link is replaced, not followed)", LIVE_NONE},
    {"names",            0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(names), CFG_MODELS | CFG_SESSIONS, NULL,
     "parley models and parley sessions ls: print only the model names or session ids, one a line (for scripts and shell completion)", LIVE_NONE},
    {"color",            0,   "PARLEY_COLOR",          OPT_ENUM, "auto",  0, 0, "auto|always|never", F(color), CFG_TUI, "WHEN",
     "colours (NO_COLOR in the environment means never)", LIVE_NONE},
    {"bench-pp",         'p', NULL,                    OPT_INT,  "512",   0, 65536, NULL, F(bench_pp), CFG_BENCH, "N",
     "prompt tokens per prefill test (0 = skip)", LIVE_NONE},
    {"bench-tg",         'n', NULL,                    OPT_INT,  "128",   0, 65536, NULL, F(bench_tg), CFG_BENCH, "N",
     "tokens per generation test (0 = skip)", LIVE_NONE},
    {"bench-reps",       'r', NULL,                    OPT_INT,  "3",     1, 100, NULL, F(bench_reps), CFG_BENCH, "N",
     "repetitions of each test", LIVE_NONE},
    {"bench-depth",      'd', NULL,                    OPT_INT,  "0",     0, 1048576, NULL, F(bench_depth), CFG_BENCH, "N",
     "tokens already in the KV cache before each test, as llama-bench -d (decode deep in a long chat)", LIVE_NONE},
    {"bench-bw",         0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(bench_bw), CFG_BENCH, NULL,
     "after the tests, generate once more timing a plain read of the weights after each token, and print generation speed as a share of it", LIVE_NONE},
    {"weight-bytes",     0,   NULL,                    OPT_BOOL, "false", 0, 0, NULL, F(weight_bytes), CFG_BENCH, NULL,
     "print the weight bytes one generated token reads, and exit", LIVE_NONE},
};

const int pl_n_options = (int)(sizeof pl_options / sizeof pl_options[0]);
_Static_assert(sizeof pl_options / sizeof pl_options[0] <= 64, "pl_config.from_cli has one bit per option");
