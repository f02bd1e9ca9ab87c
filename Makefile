# turnout's build. `make` builds build/turnout; `make test` runs every test; `make demo`
# runs the proxy in front of two demo backends; `make deps` installs Debian packages.
# BUILD picks the output folder; SANITIZE=1 builds with ASan and UBSan (no jemalloc).

BUILD ?= build
CXX ?= g++
CC ?= gcc
JOBS ?= 2
# Builds run JOBS compiles at once unless the command line says otherwise (-jN).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
  MAKEFLAGS += -j$(JOBS)
endif

LLHTTP_SRC := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

WARN := -Wall -Wextra -Wno-unused-parameter
OPT ?= -O2 -g
CPPFLAGS := -I. -I$(BUILD)/gen -I$(LLHTTP_INC) -MMD -MP
CXXFLAGS := -std=c++20 $(OPT) $(WARN) -pthread
CFLAGS := $(OPT) -pthread
LIBS := -luv -lprotobuf -lyaml-cpp -lre2 -lxxhash -pthread
ifeq ($(SANITIZE),1)
  SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  CXXFLAGS += $(SAN)
  CFLAGS += $(SAN)
  LDFLAGS += $(SAN)
else
  LIBS += -ljemalloc
endif

PROTO := config/turnout.proto
PROTO_CC := $(BUILD)/gen/config/turnout.pb.cc
PROTO_H := $(BUILD)/gen/config/turnout.pb.h

# config/ and filters/ form one library, proxy/ another, so the unit tests of the first
# build without the second (the dependency runs one way: proxy -> filters -> config).
CORE_SRCS := $(wildcard config/*.cc filters/*.cc)
CORE_OBJS := $(CORE_SRCS:%.cc=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/turnout.pb.o
PROXY_SRCS := $(filter-out proxy/main.cc,$(wildcard proxy/*.cc))
PROXY_OBJS := $(PROXY_SRCS:%.cc=$(BUILD)/obj/%.o) \
  $(BUILD)/obj/llhttp/llhttp.o $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o
UNIT_SRCS := $(wildcard tests/config/*.cc tests/filters/*.cc)
UNIT_OBJS := $(UNIT_SRCS:%.cc=$(BUILD)/obj/%.o)
PROXY_TEST_SRCS := $(wildcard tests/proxy/*.cc)
PROXY_TEST_OBJS := $(PROXY_TEST_SRCS:%.cc=$(BUILD)/obj/%.o)
E2E_SRCS := $(wildcard tests/e2e/*.cc)
E2E_OBJS := $(E2E_SRCS:%.cc=$(BUILD)/obj/%.o)

.PHONY: all test unit e2e demo deps clean format format-check test-sanitize bench \
  bench-idle bench-instr microbench
all: $(BUILD)/turnout

$(PROTO_CC) $(PROTO_H): $(PROTO)
	@mkdir -p $(BUILD)/gen
	protoc --cpp_out=$(BUILD)/gen $(PROTO)

$(BUILD)/obj/gen/turnout.pb.o: $(PROTO_CC)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Wno-extra -c $< -o $@

$(BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) -I$(LLHTTP_INC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libcore.a: $(CORE_OBJS)
	ar rcs $@ $^

$(BUILD)/libproxy.a: $(PROXY_OBJS)
	ar rcs $@ $^

$(BUILD)/turnout: $(BUILD)/obj/proxy/main.o $(BUILD)/libproxy.a $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS)

TEST_LIBS := -lgmock -lgtest_main -lgtest $(LIBS)

$(BUILD)/unit_tests: $(UNIT_OBJS) $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/proxy_tests: $(PROXY_TEST_OBJS) $(BUILD)/libproxy.a $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/e2e_tests: $(E2E_OBJS) $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

UNIT_BINS := $(BUILD)/unit_tests $(if $(PROXY_TEST_SRCS),$(BUILD)/proxy_tests)
E2E_ENV := TURNOUT_BIN=$(abspath $(BUILD)/turnout) TURNOUT_ROOT=$(CURDIR)

# Everything builds in parallel; the suites then run one after the other, unit tests
# first: they are fast and say most precisely what broke.
test: $(UNIT_BINS) $(BUILD)/turnout $(BUILD)/e2e_tests
	$(foreach bin,$(UNIT_BINS),$(bin) &&) true
	$(E2E_ENV) $(BUILD)/e2e_tests

unit: $(UNIT_BINS)
	$(foreach bin,$(UNIT_BINS),$(bin) &&) true

e2e: $(BUILD)/turnout $(BUILD)/e2e_tests
	$(E2E_ENV) $(BUILD)/e2e_tests

test-sanitize:
	$(MAKE) BUILD=build-asan SANITIZE=1 OPT="-O1 -g" test

# Load comparison with nginx and HAProxy (bench/run.sh); CASES, DUR, ROUNDS from the
# environment. bench-idle: memory per idle connection; bench-instr: instructions per request.
bench: $(BUILD)/turnout
	BUILD=$(BUILD) ./bench/run.sh

bench-idle: $(BUILD)/turnout
	BUILD=$(BUILD) ./bench/idlemem.sh

bench-instr: $(BUILD)/turnout
	BUILD=$(BUILD) ./bench/instr.sh

# Micro-benchmarks (Google Benchmark): one binary per bench/*_bench.cc.
BENCH_SRCS := $(wildcard bench/*_bench.cc)
BENCH_BINS := $(BENCH_SRCS:bench/%.cc=$(BUILD)/bench/%)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libproxy.a $(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ -lbenchmark $(LIBS)

.PRECIOUS: $(BUILD)/obj/bench/%.o

microbench: $(BENCH_BINS)
	for b in $(BENCH_BINS); do $$b || exit 1; done

deps:
	./scripts/install-deps.sh

demo:
	./scripts/demo.sh

format:
	clang-format -i $(wildcard config/*.cc config/*.h filters/*.cc filters/*.h proxy/*.cc \
	  proxy/*.h tests/*/*.cc tests/*/*.h bench/*.cc)

format-check:
	./scripts/check-width.sh

clean:
	rm -rf build build-asan build-fuzz

include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
