/*
 * core/cache.c
 *		The one relcache invalidation callback of the extension: every
 *		per-backend cache (project settings, dynamic segments, status graphs,
 *		table lookups) registers its reset here instead of taking one of the
 *		few callback slots PostgreSQL gives a backend.
 *
 *		The rule every cache follows: it is filled from the latest snapshot,
 *		and a load during which an invalidation of its tables arrived is used
 *		once but not kept. A committed change sends its invalidation after it
 *		became visible, so a snapshot taken after the invalidation arrived
 *		sees the change, and a load that overlapped it is thrown away: no
 *		cache is ever filled from a snapshot older than the invalidation that
 *		emptied it.
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "core/core.h"

#define MAX_RESETS 16

static PtCacheReset resets[MAX_RESETS];
static int	nresets = 0;
static bool registered = false;

/* Pass the invalidation of relid (InvalidOid: all) to every cache */
static void
RelcacheCallback(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < nresets; i++)
		resets[i] (relid);
}

/* Have reset called for every relcache invalidation (once per function) */
void
PtCacheRegister(PtCacheReset reset)
{
	int			i;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(RelcacheCallback, (Datum) 0);
		registered = true;
	}
	for (i = 0; i < nresets; i++)
		if (resets[i] == reset)
			return;
	if (nresets >= MAX_RESETS)
		elog(ERROR, "too many participants cache callbacks");
	resets[nresets++] = reset;
}

/*
 * A per-backend cache: a hash table of fixed-size keys, in a memory context
 * of its own (returned in *cxt) under CacheMemoryContext. Deleting that
 * context empties the cache, entries and all they point to.
 */
HTAB *
PtCacheCreate(const char *name, Size keysize, Size entrysize, MemoryContext *cxt)
{
	HASHCTL		ctl;

	*cxt = AllocSetContextCreate(CacheMemoryContext, "participants cache", ALLOCSET_SMALL_SIZES);
	MemoryContextSetIdentifier(*cxt, name);	/* a constant string: it must outlive the context */
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = *cxt;
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}
