# Makefile for the participants extension (PGXS)

EXTENSION = participants
MODULE_big = participants
OBJS = \
	src/participants.o \
	src/validate.o \
	src/project.o \
	src/body.o \
	src/record.o \
	src/upsert.o \
	src/ops.o \
	src/customfield.o \
	src/guard.o \
	src/bulkout.o \
	src/spi.o \
	src/access.o \
	src/jsonbwrite.o \
	src/query.o \
	src/filter.o \
	src/segment.o \
	src/status.o \
	src/study.o \
	src/confine.o \
	src/cache.o \
	src/counter.o \
	src/grant.o

DATA = sql/participants--0.1.0.sql sql/participants--0.2.0.sql sql/participants--0.3.0.sql \
	sql/participants--0.1.0--0.2.0.sql sql/participants--0.2.0--0.3.0.sql

# pg_regress tests, in order (sql/NAME.sql, expected/NAME.out)
REGRESS = install upsert validation enrollment bulk custom_fields ops query segments directory studies privileges confinement counters restore tenant_limits grant_access hijack fuzz_findings projects upgrade
REGRESS_OPTS = --load-extension=pg_trgm --load-extension=btree_gin --load-extension=participants

# isolation specs (test/specs/NAME.spec, test/expected/NAME.out)
ISOLATION = upsert_races segment_races study_races access_races revocation tenant_locks concurrency
ISOLATION_OPTS = --inputdir=test --load-extension=pg_trgm --load-extension=btree_gin --load-extension=participants

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
