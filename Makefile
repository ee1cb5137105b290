# Makefile for the participants extension (PGXS). The sources are grouped in
# folders by what they are about; src/participants.c describes the layout.

EXTENSION = participants
MODULE_big = participants
OBJS = \
	src/participants.o \
	src/core/args.o \
	src/core/cache.o \
	src/core/json_write.o \
	src/core/placement.o \
	src/core/sql.o \
	src/core/values.o \
	src/access/confine.o \
	src/access/grant.o \
	src/project/projects.o \
	src/project/counter.o \
	src/participant/body.o \
	src/participant/bulk_result.o \
	src/participant/custom_fields.o \
	src/participant/guard.o \
	src/participant/lifecycle.o \
	src/participant/object.o \
	src/participant/store.o \
	src/participant/upsert.o \
	src/participant/write_lock.o \
	src/search/filter.o \
	src/search/query.o \
	src/segment/segments.o \
	src/segment/dynamic.o \
	src/segment/rebuild.o \
	src/study/status.o \
	src/study/events.o \
	src/study/studies.o \
	src/study/contact.o \
	src/governance/consent.o \
	src/governance/incentives.o \
	src/records/audit.o \
	src/records/csv.o \
	src/records/erasure.o \
	src/records/import.o \
	src/records/retention.o \
	src/webhook/http.o \
	src/webhook/webhooks.o \
	src/webhook/worker.o

# each file includes the header of its folder as "folder/folder.h"
PG_CPPFLAGS = -I$(srcdir)/src
# webhook delivery (src/webhook): libcurl, from Debian's libcurl4-openssl-dev
SHLIB_LINK = -lcurl

DATA = sql/participants--0.1.0.sql sql/participants--0.2.0.sql sql/participants--0.3.0.sql sql/participants--0.4.0.sql sql/participants--0.5.0.sql sql/participants--0.6.0.sql \
	sql/participants--0.1.0--0.2.0.sql sql/participants--0.2.0--0.3.0.sql sql/participants--0.3.0--0.4.0.sql sql/participants--0.4.0--0.5.0.sql sql/participants--0.5.0--0.6.0.sql

# pg_regress tests, in order (sql/NAME.sql, expected/NAME.out)
REGRESS = install upsert validation enrollment bulk custom_fields ops query segments directory studies privileges confinement counters restore tenant_limits grant_access hijack fuzz_findings projects project_api distribute webhooks governance people lifecycle upgrade
REGRESS_OPTS = --load-extension=pg_trgm --load-extension=btree_gin --load-extension=participants

# isolation specs (test/specs/NAME.spec, test/expected/NAME.out)
ISOLATION = upsert_races segment_races study_races access_races revocation tenant_locks concurrency webhook_races governance_races lifecycle_races
ISOLATION_OPTS = --inputdir=test --load-extension=pg_trgm --load-extension=btree_gin --load-extension=participants

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
