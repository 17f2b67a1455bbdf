# seccki — PKCS#11 module for ATECC608A/B and SE050 secure elements.
#   make            build/libseccki.so, build/seccki-tool, build/libseccki-sim.so
#   make test       unit tests (cmocka) and interop tests with real clients
#   make demo       installs what is missing, builds, runs the field's flows on the emulators
#   make bench      throughput and cold start, side by side with SoftHSMv2
#   make install    PREFIX=/usr/local DESTDIR=
#   CC=clang make   builds the same with clang; SANITIZE=1 adds ASan/UBSan

BUILD   ?= build
CC      ?= gcc
PREFIX  ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config

MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBDIR    ?= $(PREFIX)/lib/$(MULTIARCH)
PKCS11DIR ?= $(LIBDIR)/pkcs11
BINDIR    ?= $(PREFIX)/bin
# The module reads /etc/seccki/seccki.conf, and p11-kit reads module files
# from its package directory (for PREFIX=/usr) or /etc/pkcs11/modules.
SYSCONFDIR ?= /etc
P11KITDIR ?= $(if $(filter /usr,$(PREFIX)),$(shell $(PKG_CONFIG) --variable=p11_module_configs p11-kit-1),/etc/pkcs11/modules)
MANDIR    ?= $(PREFIX)/share/man

CRYPTO_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcrypto)
CRYPTO_LIBS   := $(shell $(PKG_CONFIG) --libs libcrypto)
P11_CFLAGS    := $(shell $(PKG_CONFIG) --cflags p11-kit-1)
P11_LIBS      := $(shell $(PKG_CONFIG) --libs p11-kit-1)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla
OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -I. $(CRYPTO_CFLAGS) $(P11_CFLAGS)
CFLAGS   += -std=c11 $(WARN) $(OPT) -fPIC
LDLIBS   += $(CRYPTO_LIBS) -lpthread

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

HAL_SRCS    := $(wildcard hal/*.c hal/atecc608/*.c hal/se050/*.c)
SIM_SRCS    := $(wildcard hal/sim/*.c)
CONF_SRCS   := $(wildcard conf/*.c)
MODULE_SRCS := $(wildcard module/*.c)
CORE_SRCS   := $(HAL_SRCS) $(SIM_SRCS) $(CONF_SRCS) $(MODULE_SRCS)
CORE_OBJS   := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
SIMLIB_OBJS := $(filter-out $(MODULE_SRCS:%.c=$(BUILD)/obj/%.o) $(CONF_SRCS:%.c=$(BUILD)/obj/%.o),$(CORE_OBJS))

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))

MODULE_SO := $(BUILD)/libseccki.so
SIM_SO    := $(BUILD)/libseccki-sim.so
SHIM_SO   := $(BUILD)/seccki-i2c-shim.so
CORE_A    := $(BUILD)/libseccki-core.a
TOOL      := $(BUILD)/seccki-tool
BENCH     := $(BUILD)/seccki-bench

.PHONY: all test unit interop demo bench install uninstall clean lint
all: $(MODULE_SO) $(TOOL) $(SIM_SO) $(SHIM_SO) $(BENCH)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(CORE_A): $(CORE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# The module exports the C_* entry points only (module/seccki.map).
$(MODULE_SO): $(CORE_OBJS) module/seccki.map
	$(CC) -shared -Wl,--version-script=module/seccki.map -Wl,-z,defs -Wl,-z,now \
	    $(LDFLAGS) -o $@ $(CORE_OBJS) $(LDLIBS)

# The emulators as a library with a C API (hal/sim/sim.h).
$(SIM_SO): $(SIMLIB_OBJS) hal/sim/sim.map
	$(CC) -shared -Wl,--version-script=hal/sim/sim.map -Wl,-z,defs $(LDFLAGS) \
	    -o $@ $(SIMLIB_OBJS) $(LDLIBS)

# Test-only: answers open/ioctl/read/write on fake /dev/i2c-N from the emulators.
$(SHIM_SO): $(BUILD)/obj/tests/shim/i2c_shim.o $(SIMLIB_OBJS)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS) -ldl

TOOL_OBJS := $(BUILD)/obj/tools/seccki-tool.o $(BUILD)/obj/tools/tool_flows.o
$(TOOL): $(TOOL_OBJS) $(CORE_A)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(CORE_A) $(P11_LIBS) $(LDLIBS)

$(BENCH): $(BUILD)/obj/tools/seccki-bench.o $(SIMLIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ldl

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELPERS:%.c=$(BUILD)/obj/%.o) $(CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_HELPERS:%.c=$(BUILD)/obj/%.o) $(CORE_A) $(CMOCKA_LIBS) $(LDLIBS) -ldl

$(BUILD)/obj/tests/unit/%.o: CFLAGS += $(CMOCKA_CFLAGS) -Wno-missing-prototypes

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; BUILD=$(BUILD) $$t; done

interop: all
	BUILD=$(BUILD) tests/interop/run.sh

test: all unit interop

# No `all` prerequisite: on a fresh machine tools/demo.sh first installs what
# the build needs, then builds.
demo:
	@BUILD=$(BUILD) MAKE="$(MAKE)" tools/demo.sh

bench: all
	BUILD=$(BUILD) tools/bench.sh

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --suppress=missingIncludeSystem -I. $(CORE_SRCS) tools/*.c

install: all
	install -d $(DESTDIR)$(PKCS11DIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(P11KITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/seccki $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(MODULE_SO) $(DESTDIR)$(PKCS11DIR)/libseccki.so
	install -m 0755 $(TOOL) $(DESTDIR)$(BINDIR)/seccki-tool
	sed 's|@MODULE@|$(PKCS11DIR)/libseccki.so|' p11-kit/seccki.module > $(DESTDIR)$(P11KITDIR)/seccki.module
	test -e $(DESTDIR)$(SYSCONFDIR)/seccki/seccki.conf || \
	    install -m 0644 conf/seccki.conf.example $(DESTDIR)$(SYSCONFDIR)/seccki/seccki.conf
	for m in man/*.[157]; do [ -e "$$m" ] || continue; \
	    install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done

uninstall:
	rm -f $(DESTDIR)$(PKCS11DIR)/libseccki.so $(DESTDIR)$(BINDIR)/seccki-tool \
	    $(DESTDIR)$(P11KITDIR)/seccki.module
	for m in man/*.[157]; do [ -e "$$m" ] || continue; \
	    rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done

clean:
	rm -rf $(BUILD) build-*

.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
