# azote build. `make` builds, `make test` runs every test (installs what it needs),
# `make run` boots the demo guest, `make asan` runs the tests under ASan+UBSan.
CC      ?= cc
BUILD   ?= build
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing -Isrc -MMD -MP
# http-parser frames the management API's HTTP/1.1 requests, jansson reads and writes its JSON
# (src/api). libseccomp builds the per-role seccomp filters (src/sandbox).
LDLIBS  += -lpthread -lhttp_parser -ljansson -lseccomp
# The device processes ("cards") submit their I/O through io_uring.
CARD_LDLIBS := -luring

# Every .c under src/ except the programs' main.c files is part of the core library the tests
# link against.
CORE_SRC := $(filter-out src/main.c src/cards/%/main.c src/jail/main.c,$(shell find src -name '*.c' | sort))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit run asan clean deps format fuzz bench bench-blk bench-net bench-api bench-sandbox
all: $(BUILD)/azote $(BUILD)/azote-blk $(BUILD)/azote-net $(BUILD)/azote-jail

$(BUILD)/azote: $(BUILD)/src/main.o $(BUILD)/libazote.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# azote-blk: the vhost-user-blk device process (src/cards/blk).
$(BUILD)/azote-blk: $(BUILD)/src/cards/blk/main.o $(BUILD)/libazote.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CARD_LDLIBS)

# azote-net: the vhost-user-net device process over a TAP interface (src/cards/net).
$(BUILD)/azote-net: $(BUILD)/src/cards/net/main.o $(BUILD)/libazote.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# azote-jail: starts azote in a chroot, namespaces and a cgroup, unprivileged (src/jail).
$(BUILD)/azote-jail: $(BUILD)/src/jail/main.o $(BUILD)/libazote.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libazote.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libazote.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libazote.a $(LDLIBS) $(CARD_LDLIBS) -lcmocka

unit: $(UNIT_BIN)

# bench/launch: starts a VMM and reports its start/exit instants and peak RSS (bench/boot.sh).
$(BUILD)/bench/launch: bench/launch.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# bench/api-client: a small HTTP client on the API's Unix socket that times requests (bench/api.sh).
$(BUILD)/bench/api-client: bench/api-client.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

deps:
	@scripts/deps.sh

# The whole suite: unit tests, host CLI tests, then the real-guest tests in the KVM lab.
test: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) tests/run.sh

# Same suite, every binary built with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" test

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/launch
	@BUILD=$(BUILD) bench/boot.sh

# Storage benchmark: fio on the host vs in an azote guest vs in a QEMU virtio-blk-pci guest.
bench-blk: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/blk.sh

# Sandbox benchmark: boot to marker and fio 4 KiB random read IOPS, --seccomp-level 2 vs 0.
bench-sandbox: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/launch
	@BUILD=$(BUILD) bench/sandbox.sh

# Network benchmark: iperf3 and ping between a guest and a TAP device, azote vs QEMU virtio-net-pci.
bench-net: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/net.sh

# API benchmark: request latency on the host, and start-to-marker through the API vs the command line.
bench-api: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/launch $(BUILD)/bench/api-client
	@BUILD=$(BUILD) bench/api.sh

# libFuzzer targets for parsers of untrusted bytes; FUZZ_SECONDS per target (default 60).
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
fuzz: deps
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/$$n $$f $(CORE_SRC) $(LDLIBS) $(CARD_LDLIBS) || exit 1; \
	  mkdir -p build-fuzz/$$n.corpus; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/$$n.corpus || exit 1; \
	done

format:
	clang-format -i $$(find src tests fuzz -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
