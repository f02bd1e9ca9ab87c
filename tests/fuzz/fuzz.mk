# libFuzzer targets, built with clang, ASan and UBSan into $(FUZZ_BUILD). The Makefile
# includes this file; `make fuzz` builds every target and runs each for FUZZ_SECONDS on
# its seed corpus (tests/fuzz/corpus/<target>) plus what earlier runs found
# ($(FUZZ_BUILD)/corpus/<target>). A crash stops the run and leaves crash-* files.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := request_fuzz config_fuzz
FUZZ_MAKE ?= $(MAKE)
FUZZ_VARS := BUILD=$(FUZZ_BUILD) CXX=clang++ CC=clang SANITIZE=1 \
  OPT="-O1 -g -fsanitize=fuzzer-no-link"

.PHONY: fuzz fuzz-build
fuzz-build:
	$(FUZZ_MAKE) $(FUZZ_VARS) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

fuzz: fuzz-build
	for target in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$target $(FUZZ_BUILD)/artifacts; \
	  dict=tests/fuzz/$$target.dict; [ -f $$dict ] || dict=/dev/null; \
	  $(FUZZ_BUILD)/$$target -max_total_time=$(FUZZ_SECONDS) -dict=$$dict \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$target- -print_final_stats=1 \
	    $(FUZZ_BUILD)/corpus/$$target tests/fuzz/corpus/$$target || exit 1; \
	done

$(BUILD)/request_fuzz: $(BUILD)/obj/tests/fuzz/request_fuzz.o $(BUILD)/obj/tests/fuzz/http_check.o \
    $(BUILD)/libproxy.a $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(BUILD)/config_fuzz: $(BUILD)/obj/tests/fuzz/config_fuzz.o $(BUILD)/libcore.a
	$(CXX) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)
