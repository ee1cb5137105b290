/*
 * core/placement.c
 *		Where a project's rows live. On one node they are in the extension's
 *		tables. On a Citus cluster (after participants.distribute()) each
 *		table is a shell whose rows are in shards: a reference table has one
 *		shard with a copy on every node, a distributed table one shard per
 *		hash range of project_id, and all distributed tables are colocated, so
 *		one node holds every row of a project.
 *
 *		The code that reads and writes tables directly (the participant store,
 *		counters, events, the status table, grants) asks PtLocalTable for the
 *		table that holds a project's rows on this node: the table itself on
 *		one node, the shard on a cluster. PtProjectIsLocal tells an API call
 *		whether this node holds the project at all; when it does not, the
 *		call is forwarded to the node that does (confine.c). The metadata of
 *		each table is read once from Citus's catalogs and kept until a
 *		relcache invalidation of the table (Citus sends one whenever it
 *		changes a table's shards).
 *
 *		Without Citus, each lookup is one hash probe that finds the table is
 *		not distributed.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "core/core.h"

typedef struct Shard
{
	int64		shardid;
	int32		min;			/* hash range, inclusive */
	int32		max;
	bool		local;			/* placed on this node */
} Shard;

typedef struct TablePlacement
{
	Oid			relid;			/* the table (hash key) */
	char		method;			/* 0: not distributed, 'n': reference, 'h': hash */
	int			nshards;
	Shard	   *shards;			/* in placement_cxt */
} TablePlacement;

static HTAB *placements = NULL;
static MemoryContext placement_cxt = NULL;

static void
PlacementReset(Oid relid)
{
	TablePlacement *tp;

	if (placements == NULL)
		return;
	if (relid == InvalidOid)
	{
		MemoryContextDelete(placement_cxt);
		placement_cxt = NULL;
		placements = NULL;
		return;
	}
	tp = hash_search(placements, &relid, HASH_FIND, NULL);
	if (tp != NULL)
	{
		if (tp->shards != NULL)
			pfree(tp->shards);
		(void) hash_search(placements, &relid, HASH_REMOVE, NULL);
	}
}

/* Citus's catalogs, when the Citus extension is installed in this database */
static bool
CitusPresent(void)
{
	return OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE));
}

/* Read the distribution of relid from Citus's catalogs */
static void
LoadPlacement(TablePlacement *tp)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	int			i;

	tp->method = 0;
	tp->nshards = 0;
	tp->shards = NULL;
	if (!CitusPresent())
		return;
	args[0] = ObjectIdGetDatum(tp->relid);
	SPI_connect();
	if (SPI_execute_with_args("SELECT p.partmethod::text, s.shardid, "
							  "s.shardminvalue::pg_catalog.int4, s.shardmaxvalue::pg_catalog.int4, "
							  "EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement pl "
							  "        WHERE pl.shardid = s.shardid "
							  "        AND pl.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group)) "
							  "FROM pg_catalog.pg_dist_partition p "
							  "JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid = p.logicalrelid "
							  "WHERE p.logicalrelid = $1 ORDER BY s.shardminvalue::pg_catalog.int4 NULLS FIRST",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus placement of table %u", tp->relid);
	/* an invalidation during the query emptied the cache: GetPlacement starts over */
	if (placements != NULL && SPI_processed > 0)
	{
		tp->shards = MemoryContextAlloc(placement_cxt, sizeof(Shard) * SPI_processed);
		for (i = 0; i < (int) SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Shard	   *s = &tp->shards[i];
			char	   *method = SPI_getvalue(tup, desc, 1);
			Datum		d;

			tp->method = method[0];
			s->shardid = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			d = SPI_getbinval(tup, desc, 3, &isnull);
			s->min = isnull ? PG_INT32_MIN : DatumGetInt32(d);
			d = SPI_getbinval(tup, desc, 4, &isnull);
			s->max = isnull ? PG_INT32_MAX : DatumGetInt32(d);
			s->local = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		}
		tp->nshards = (int) SPI_processed;
	}
	SPI_finish();
}

static TablePlacement *
GetPlacement(Oid relid)
{
	TablePlacement *tp;
	bool		found;

	if (placements == NULL)
	{
		PtCacheRegister(PlacementReset);
		placements = PtCacheCreate("participants placements", sizeof(Oid),
								   sizeof(TablePlacement), &placement_cxt);
	}
	tp = hash_search(placements, &relid, HASH_FIND, NULL);
	if (tp != NULL)
		return tp;
	{
		TablePlacement loaded;

		/* load first: an invalidation during the load may reset the table */
		loaded.relid = relid;
		LoadPlacement(&loaded);
		if (placements == NULL)
			return GetPlacement(relid);
		tp = hash_search(placements, &relid, HASH_ENTER, &found);
		tp->method = loaded.method;
		tp->nshards = loaded.nshards;
		tp->shards = loaded.shards;
	}
	return tp;
}

/* The shard of tp that holds project's rows */
static Shard *
ProjectShard(TablePlacement *tp, pg_uuid_t *project)
{
	int32		h;
	int			i;

	if (tp->method != 'h')
		return &tp->shards[0];
	h = DatumGetInt32(DirectFunctionCall1(uuid_hash, UUIDPGetDatum(project)));
	for (i = 0; i < tp->nshards; i++)
		if (h >= tp->shards[i].min && h <= tp->shards[i].max)
			return &tp->shards[i];
	elog(ERROR, "no shard of table %u holds hash %d", tp->relid, h);
	return NULL;				/* keep compiler quiet */
}

/* The name of a shard's table or index: name_shardid */
static char *
ShardName(const char *name, int64 shardid)
{
	return psprintf("%s_" INT64_FORMAT, name, shardid);
}

static Oid	participant_relid = InvalidOid;

static void
ParticipantRelidReset(Oid relid)
{
	if (relid == InvalidOid || relid == participant_relid)
		participant_relid = InvalidOid;
}

static TablePlacement *
ParticipantPlacement(void)
{
	if (!OidIsValid(participant_relid))
	{
		PtCacheRegister(ParticipantRelidReset);
		participant_relid = PtTableRelid("participant");
	}
	return GetPlacement(participant_relid);
}

/* True once participants.distribute() has distributed the extension's tables */
bool
PtDistributed(void)
{
	return ParticipantPlacement()->method != 0;
}

/*
 * Does this node hold project's rows? Always on one node; on a cluster, when
 * the shard of participant (and so of every colocated table) that holds the
 * project is placed here.
 */
bool
PtProjectIsLocal(pg_uuid_t *project)
{
	TablePlacement *tp = ParticipantPlacement();

	return tp->method == 0 || ProjectShard(tp, project)->local;
}

/*
 * The table of this node that holds the rows of relid (one of the
 * extension's tables) for project: relid itself on one node, its shard on a
 * cluster (project is ignored for a reference table). ERROR when the shard
 * is on another node: API calls are forwarded before they get here
 * (PtProjectIsLocal), and triggers fire on the shard itself.
 */
Oid
PtLocalTable(Oid relid, pg_uuid_t *project)
{
	TablePlacement *tp = GetPlacement(relid);
	Shard		s;
	Oid			shard;

	if (tp->method == 0)
		return relid;
	/*
	 * A copy: the catalog lookups below may accept invalidations, which can
	 * free the cached placement
	 */
	s = *ProjectShard(tp, project);
	if (!s.local)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the rows of project %s are on another node",
						project ? PtUuidText(project) : "(none)"),
				 errdetail("Table participants.%s is distributed; its shard " INT64_FORMAT " is not placed on this node.",
						   get_rel_name(relid), s.shardid),
				 errhint("Call the extension's functions through the coordinator.")));
	shard = get_relname_relid(ShardName(get_rel_name(relid), s.shardid), get_rel_namespace(relid));
	if (!OidIsValid(shard))
		elog(ERROR, "shard " INT64_FORMAT " of participants.%s is not on this node",
			 s.shardid, get_rel_name(relid));
	return shard;
}

/*
 * The index of local (a table PtLocalTable gave for relid) that is index of
 * relid: index itself, or the shard's copy of it
 */
Oid
PtLocalIndex(Oid index, Oid relid, Oid local)
{
	TablePlacement *tp;
	int			i;

	int64		shardid = 0;
	char	   *name;
	char	   *suffix;
	Oid			idx;

	if (local == relid)
		return index;
	/* local is participants.NAME_SHARDID: its index is INDEX_SHARDID */
	name = get_rel_name(local);
	suffix = name ? strrchr(name, '_') : NULL;
	if (suffix != NULL)
		shardid = pg_strtoint64(suffix + 1);
	tp = GetPlacement(relid);
	for (i = 0; i < tp->nshards; i++)
		if (tp->shards[i].shardid == shardid)
			break;
	if (i == tp->nshards)
		elog(ERROR, "table %u is not a shard of table %u", local, relid);
	idx = get_relname_relid(ShardName(get_rel_name(index), shardid), get_rel_namespace(relid));
	if (!OidIsValid(idx))
		elog(ERROR, "index %s of shard " INT64_FORMAT " is not on this node",
			 get_rel_name(index), shardid);
	return idx;
}

/* PtLocalIndex for one of the extension's indexes, by name */
Oid
PtLocalIndexRelid(const char *index, Oid relid, Oid local)
{
	Oid			idx = get_relname_relid(index, get_rel_namespace(relid));

	if (!OidIsValid(idx))
		elog(ERROR, "index participants.%s does not exist", index);
	return PtLocalIndex(idx, relid, local);
}

/*
 * The extension's table that rel is: rel itself, or the table rel is a
 * shard of (participants.NAME_SHARDID). A trigger that invalidates caches
 * invalidates this one: the caches know the extension's tables, not shards.
 */
Oid
PtShellOf(Oid rel)
{
	char	   *name = get_rel_name(rel);
	int			len;
	Oid			nsp = get_namespace_oid("participants", false);
	Oid			relid;

	if (name == NULL || get_rel_namespace(rel) != nsp)
		return rel;
	len = strlen(name);
	while (len > 0 && name[len - 1] >= '0' && name[len - 1] <= '9')
		len--;
	if (len == (int) strlen(name) || len < 2 || name[len - 1] != '_')
		return rel;
	name[len - 1] = '\0';
	relid = get_relname_relid(name, nsp);
	return OidIsValid(relid) ? relid : rel;
}

/*
 * Is rel (a trigger's table) a shard of relid? Then the trigger fires on a
 * node of a cluster, for the shard's rows only.
 */
bool
PtIsShardOf(Oid rel, Oid relid)
{
	return rel != relid;
}

/*
 * Whether relid is a distributed table of a Citus cluster seen from where
 * its shards are known (the coordinator's shell, or a worker's copy of the
 * metadata): its rows live in the shards
 */
bool
PtIsDistributedTable(Oid relid)
{
	return GetPlacement(relid)->nshards > 0;
}
