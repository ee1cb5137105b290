/*
 * segment/segments.c
 *		Segments and participant groups (doc/segments.md): create, change,
 *		read, list and delete segments, add and remove a static segment's
 *		members, and membership history.
 *
 *		A membership episode is a row of segment_membership: current while
 *		remove_date is null. Static segments change by add_segment_members and
 *		remove_segment_members; a dynamic segment's members are the
 *		participants its filter matches (dynamic.c, rebuild.c).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "segment/segment.h"

/*
 * The segment object (doc/segments.md), for segment s of project $1 (the
 * subquery names $1, not s.project_id: on a cluster, Citus routes a
 * statement to one node only when each table in it is restricted to one
 * project by a value)
 */
#define SEGMENT_JSON \
	"pg_catalog.jsonb_build_object('segmentID', s.id, 'segmentName', s.name, " \
	"'description', s.description, 'kind', s.kind, 'filter', s.filter, " \
	"'createdDate', s.created_date, 'participantCount', " \
	"(SELECT pg_catalog.count(*) FROM participants.segment_membership m " \
	"WHERE m.project_id = $1 AND m.segment_id = s.id AND m.remove_date IS NULL))"


static void
SegmentNotFound(pg_uuid_t *segment_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("segment %s not found", PtUuidText(segment_id)),
			 errhint("list_segments(project_id) lists the project's segments.")));
}

/*
 * The segment's kind ('s' or 'd'), its row locked against deletion (FOR
 * KEY SHARE) when "lock"; PT404 when there is none
 */
static char
SegmentKind(pg_uuid_t *project_id, pg_uuid_t *segment_id, bool lock)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;
	char		kind = 0;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	SPI_connect();
	if (PtRunValue(&plans[lock], lock ?
				   "SELECT kind FROM participants.segment WHERE project_id = $1 AND id = $2 FOR KEY SHARE" :
				   "SELECT kind FROM participants.segment WHERE project_id = $1 AND id = $2",
				   2, types, args, NULL, !lock, &v, &isnull))
		kind = TextDatumGetCString(v)[0];
	SPI_finish();
	if (kind == 0)
		SegmentNotFound(segment_id);
	return kind;
}

/* The segment object, or NULL; lock: with its row locked FOR UPDATE */
static Jsonb *
SegmentObject(pg_uuid_t *project_id, pg_uuid_t *segment_id, bool read_only, bool lock)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	return PtJsonbStatement(&plans[lock], lock
							? "SELECT " SEGMENT_JSON " FROM participants.segment s "
							"WHERE s.project_id = $1 AND s.id = $2 FOR UPDATE OF s"
							: "SELECT " SEGMENT_JSON " FROM participants.segment s "
							"WHERE s.project_id = $1 AND s.id = $2",
							2, types, args, NULL, read_only && !lock);
}

/* 23505 when another segment of the project has this name (in any case) */
static void
CheckNameFree(pg_uuid_t *project_id, const char *name, pg_uuid_t *self)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, TEXTOID, UUIDOID};
	Datum		args[3];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	args[2] = self ? UUIDPGetDatum(self) : (Datum) 0;
	if (PtRowExists(&plan, "SELECT 1 FROM participants.segment WHERE project_id = $1 "
					"AND pg_catalog.lower(name) = pg_catalog.lower($2) "
					"AND id IS DISTINCT FROM $3", 3, types,
					args, self ? "   " : "  n", true))
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("segment name \"%s\" is already taken in this project", name),
				 errhint("Segment names are unique within a project, in any case.")));
}

/* ------------------------------------------------------------------------
 * Segment functions
 * ------------------------------------------------------------------------
 */

/* create_segment(project_id, name, description, filter) */
PT_API_FUNCTION(participants_create_segment)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	char	   *name;
	Oid			types[5] = {UUIDOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		args[5];
	char		nulls[5] = "     ";
	Datum		v;
	bool		isnull;
	pg_uuid_t  *segment_id = palloc(sizeof(pg_uuid_t));
	bool		dynamic = !PG_ARGISNULL(3);
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "name");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	name = PtCheckName(PG_GETARG_TEXT_PP(1), "segment");
	if (dynamic)
	{
		PtFilter	f;

		PtFilterSegment(&f, PG_GETARG_JSONB_P(3));
	}
	CheckNameFree(project_id, name, NULL);

	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	args[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = (PG_ARGISNULL(2) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0) ? 'n' : ' ';
	args[3] = dynamic ? PG_GETARG_DATUM(3) : (Datum) 0;
	nulls[3] = dynamic ? ' ' : 'n';
	args[4] = CStringGetTextDatum(dynamic ? "dynamic" : "static");
	SPI_connect();
	if (!PtRunValue(&plan, "INSERT INTO participants.segment (project_id, id, name, description, filter, kind) "
					"VALUES ($1, pg_catalog.gen_random_uuid(), $2, $3, $4, $5) RETURNING id", 5, types,
					args, nulls, false, &v, &isnull))
		elog(ERROR, "segment insert returned no row");
	memcpy(segment_id->data, DatumGetUUIDP(v)->data, UUID_LEN);
	SPI_finish();
	if (dynamic)
		PtRebuildMembership(project_id, segment_id, PG_GETARG_JSONB_P(3));
	res = SegmentObject(project_id, segment_id, false, false);
	PG_RETURN_JSONB_P(res);
}

/* update_segment(project_id, segment_id, name, description, filter) */
PT_API_FUNCTION(participants_update_segment)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	char	   *name = NULL;
	Oid			types[5] = {UUIDOID, UUIDOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		args[5];
	char		nulls[5] = "     ";
	Datum		v;
	bool		isnull;
	char		kind;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	if (!PG_ARGISNULL(2))
		name = PtCheckName(PG_GETARG_TEXT_PP(2), "segment");
	if (!PG_ARGISNULL(4))
	{
		PtFilter	f;

		PtFilterSegment(&f, PG_GETARG_JSONB_P(4));
	}
	kind = SegmentKind(project_id, segment_id, false);
	if (kind == 's' && !PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("segment %s is static: it has no filter", PtUuidText(segment_id)),
				 errhint("A static segment's members are added and removed by hand; create a dynamic segment for a filter.")));
	if (name)
		CheckNameFree(project_id, name, segment_id);

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[2] = name ? ' ' : 'n';
	args[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[3] = PG_ARGISNULL(3) ? 'n' : ' ';
	args[4] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	nulls[4] = PG_ARGISNULL(4) ? 'n' : ' ';
	SPI_connect();
	/* segment_sync rebuilds the membership when the filter changed */
	if (!PtRunValue(&plan, "UPDATE participants.segment SET "
					"name = coalesce($3, name), "
					"description = CASE WHEN $4 IS NULL THEN description "
					"WHEN $4 = '' THEN NULL ELSE $4 END, "
					"filter = coalesce($5, filter) "
					"WHERE project_id = $1 AND id = $2 RETURNING 1", 5, types,
					args, nulls, false, &v, &isnull))
	{
		SPI_finish();
		SegmentNotFound(segment_id);
	}
	SPI_finish();
	PG_RETURN_JSONB_P(SegmentObject(project_id, segment_id, false, false));
}

/* delete_segment(project_id, segment_id): the segment as it was */
PT_API_FUNCTION(participants_delete_segment)
{
	static SPIPlanPtr delete_plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	/*
	 * The object as it is, with the row locked, then the delete: a RETURNING
	 * list of STABLE functions is one Citus does not take
	 */
	res = SegmentObject(project_id, segment_id, false, true);
	if (res == NULL)
		SegmentNotFound(segment_id);
	SPI_connect();
	if (delete_plan == NULL)
		PtPreparePlan(&delete_plan, "DELETE FROM participants.segment WHERE project_id = $1 AND id = $2",
					  2, types);
	if (PtExecutePlan(delete_plan, args, NULL, false, 0) != SPI_OK_DELETE || SPI_processed != 1)
		elog(ERROR, "could not delete segment %s", PtUuidText(segment_id));
	SPI_finish();
	PG_RETURN_JSONB_P(res);
}

/* get_segment(project_id, segment_id) */
PT_API_FUNCTION(participants_get_segment)
{
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	res = SegmentObject(project_id, segment_id, true, false);
	if (res == NULL)
		SegmentNotFound(segment_id);
	PG_RETURN_JSONB_P(res);
}

/* list_segments(project_id, page_number, page_size): by name */
PT_API_FUNCTION(participants_list_segments)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	int32		page_number = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int32		page_size = PG_ARGISNULL(2) ? 20 : PG_GETARG_INT32(2);
	Oid			types[4] = {UUIDOID, INT4OID, INT4OID, INT8OID};
	Datum		args[4];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtCheckPaging(page_number, page_size, "segments");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = Int32GetDatum(page_number);
	args[2] = Int32GetDatum(page_size);
	args[3] = Int64GetDatum((int64) page_number * page_size);
	res = PtJsonbStatement(&plan,
					  "SELECT pg_catalog.jsonb_build_object('pageNumber', $2, 'pageSize', $3, "
					  "'totalSegments', (SELECT pg_catalog.count(*) FROM participants.segment "
					  "WHERE project_id = $1), "
					  "'segments', coalesce((SELECT pg_catalog.jsonb_agg(page.j ORDER BY page.n) FROM "
					  "(SELECT " SEGMENT_JSON " AS j, "
					  "pg_catalog.row_number() OVER (ORDER BY pg_catalog.lower(s.name), s.id) AS n "
					  "FROM participants.segment s WHERE s.project_id = $1 "
					  "ORDER BY pg_catalog.lower(s.name), s.id LIMIT $3 OFFSET $4) page), '[]'))",
					  4, types, args, NULL, true);
	if (res == NULL)
		elog(ERROR, "segment list returned no row");
	PG_RETURN_JSONB_P(res);
}

/*
 * The participants named by a JSON array (participantIdentifiers, or ids
 * with query_by_id), as a sorted array of distinct ids (PT404 naming the
 * first one that is not in the project). *ndistinct receives their number.
 */
static Datum
ResolveParticipants(pg_uuid_t *project_id, Jsonb *list, int kind, int *ndistinct,
					bool lock)
{
	static SPIPlanPtr plan = NULL;
	char	  **texts;
	int			n;
	Datum	   *ids = PtResolveParticipantsBy(project_id, list, kind, false, "participants", &n, &texts);
	Datum	   *given = palloc(sizeof(Datum) * Max(n, 1));
	Datum		array;
	Oid			types[2] = {UUIDOID, UUIDARRAYOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;
	int			i;

	memcpy(given, ids, sizeof(Datum) * n);
	*ndistinct = PtSortDistinctIds(ids, n);
	array = PointerGetDatum(construct_array(ids, *ndistinct, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	if (!lock || *ndistinct == 0)
		return array;

	/*
	 * Lock them as the new episodes' foreign key will, in id order
	 * (doc/concurrency.md): a participant deleted since it was found is then
	 * missing here, and PT404, rather than a foreign key violation
	 */
	args[0] = UUIDPGetDatum(project_id);
	args[1] = array;
	SPI_connect();
	(void) PtRunValue(&plan, "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM participants.participant p "
					  "WHERE p.project_id = $1 AND p.id = ANY ($2) ORDER BY p.id FOR KEY SHARE) l",
					  2, types, args, NULL, false, &v, &isnull);
	SPI_finish();
	if (DatumGetInt64(v) == *ndistinct)
		return array;
	for (i = 0; i < n; i++)
	{
		PtRow		row;
		PtAccess	acc;
		bool		found;

		PtAccessOpen(&acc, project_id, ACL_SELECT, AccessShareLock);
		found = PtAccessFetch(&acc, UUIDPGetDatum(project_id), PT_KEY_ID, given[i],
							  GetLatestSnapshot(), false, &row);
		PtAccessClose(&acc);
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("participant \"%s\" not found", texts[i]),
					 errdetail("It was deleted while this call ran.")));
	}
	elog(ERROR, "a participant of the list could not be locked");
	return (Datum) 0;
}

/* Lock the segment (FOR UPDATE); PT409 when it is dynamic */
static void
LockStaticSegment(pg_uuid_t *project_id, pg_uuid_t *segment_id)
{
	if (SegmentKind(project_id, segment_id, true) == 'd')
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("segment %s is dynamic: its members follow its filter", PtUuidText(segment_id)),
				 errhint("Change the filter with update_segment, or use a static segment.")));
}

/* Common part of add_segment_members and remove_segment_members */
static Jsonb *
ChangeMembers(FunctionCallInfo fcinfo, bool add)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	bool		query_by_id = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};
	Datum		args[3];
	Datum		v;
	bool		isnull;
	int			ndistinct;
	int64		changed;
	JsonbParseState *state = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	PtNotNull(fcinfo, 2, "participants");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	LockStaticSegment(project_id, segment_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = ResolveParticipants(project_id, PG_GETARG_JSONB_P(2), query_by_id ? PT_KEY_ID : PT_KEY_IDENTIFIER,
								  &ndistinct, add);

	SPI_connect();
	if (!PtRunValue(&plans[add], add ?
	/* in id order, so that two overlapping calls cannot deadlock */
					"WITH ins AS (INSERT INTO participants.segment_membership "
					"(project_id, segment_id, participant_id, add_date) "
					"SELECT $1, $2, a.id, pg_catalog.now() FROM pg_catalog.unnest($3) a(id) "
					"ON CONFLICT (project_id, segment_id, participant_id) WHERE remove_date IS NULL "
					"DO NOTHING RETURNING 1) SELECT pg_catalog.count(*) FROM ins" :
					"WITH upd AS (UPDATE participants.segment_membership m "
					"SET remove_date = GREATEST(pg_catalog.now(), m.add_date) "
					"WHERE m.project_id = $1 AND m.segment_id = $2 AND m.remove_date IS NULL "
					"AND m.participant_id = ANY ($3) RETURNING 1) SELECT pg_catalog.count(*) FROM upd",
					3, types, args, NULL, false, &v, &isnull))
		elog(ERROR, "membership change returned no row");
	changed = DatumGetInt64(v);
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, add ? "added" : "removed", changed);
	PtPushNumber(&state, add ? "alreadyMembers" : "notMembers", ndistinct - changed);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * set_segment_members(project_id, segment_id, participants, by): the static
 * segment's current members become exactly the list; removed members' episodes
 * end, new ones begin (history kept)
 */
PT_API_FUNCTION(participants_set_segment_members)
{
	static SPIPlanPtr remove_plan = NULL;
	static SPIPlanPtr add_plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	int			kind = PT_KEY_IDENTIFIER;
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};
	Datum		args[3];
	Datum		v;
	bool		isnull;
	int			ndistinct;
	int64		added,
				removed;
	JsonbParseState *state = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	PtNotNull(fcinfo, 2, "participants");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	if (PG_NARGS() > 3)
		kind = PtByArg(fcinfo, 3);
	(void) PtGetProject(project_id);
	LockStaticSegment(project_id, segment_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = ResolveParticipants(project_id, PG_GETARG_JSONB_P(2), kind, &ndistinct, true);

	SPI_connect();
	if (!PtRunValue(&remove_plan, "WITH upd AS (UPDATE participants.segment_membership m "
					"SET remove_date = GREATEST(pg_catalog.now(), m.add_date) "
					"WHERE m.project_id = $1 AND m.segment_id = $2 AND m.remove_date IS NULL "
					"AND m.participant_id <> ALL ($3) RETURNING 1) SELECT pg_catalog.count(*) FROM upd",
					3, types, args, NULL, false, &v, &isnull))
		elog(ERROR, "membership change returned no row");
	removed = DatumGetInt64(v);
	if (!PtRunValue(&add_plan, "WITH ins AS (INSERT INTO participants.segment_membership "
					"(project_id, segment_id, participant_id, add_date) "
					"SELECT $1, $2, a.id, pg_catalog.now() FROM pg_catalog.unnest($3) a(id) "
					"ON CONFLICT (project_id, segment_id, participant_id) WHERE remove_date IS NULL "
					"DO NOTHING RETURNING 1) SELECT pg_catalog.count(*) FROM ins",
					3, types, args, NULL, false, &v, &isnull))
		elog(ERROR, "membership change returned no row");
	added = DatumGetInt64(v);
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "added", added);
	PtPushNumber(&state, "removed", removed);
	PtPushNumber(&state, "unchanged", ndistinct - added);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/* add_segment_members(project_id, segment_id, participants, query_by_id) */
PT_API_FUNCTION(participants_add_segment_members)
{
	PG_RETURN_JSONB_P(ChangeMembers(fcinfo, true));
}

/* remove_segment_members(project_id, segment_id, participants, query_by_id) */
PT_API_FUNCTION(participants_remove_segment_members)
{
	PG_RETURN_JSONB_P(ChangeMembers(fcinfo, false));
}

/* One participant's id, by identifier or id; PT404 when not in the project */
static Datum
ResolveParticipant(pg_uuid_t *project_id, text *participant, bool query_by_id)
{
	PtRow		row;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	PtFetchParticipant(project_id, participant, query_by_id, ACL_SELECT, false, &row);
	memcpy(id->data, row.rec.id.data, UUID_LEN);
	return UUIDPGetDatum(id);
}

/* segment_history(project_id, segment_id, participant, query_by_id) */
PT_API_FUNCTION(participants_segment_history)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	bool		query_by_id = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
	Datum		args[3];
	char		nulls[3] = "  n";
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	(void) SegmentKind(project_id, segment_id, false);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = (Datum) 0;
	if (!PG_ARGISNULL(2))
	{
		args[2] = ResolveParticipant(project_id, PG_GETARG_TEXT_PP(2), query_by_id);
		nulls[2] = ' ';
	}
	res = PtJsonbStatement(&plan,
					  "SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					  "'participantID', m.participant_id, 'addDate', m.add_date, "
					  "'removeDate', m.remove_date) ORDER BY m.add_date, m.id), '[]') "
					  "FROM participants.segment_membership m "
					  "WHERE m.project_id = $1 AND m.segment_id = $2 "
					  "AND ($3::uuid IS NULL OR m.participant_id = $3)", 3, types, args, nulls, true);
	if (res == NULL)
		elog(ERROR, "segment history returned no row");
	PG_RETURN_JSONB_P(res);
}

/* participant_segments(project_id, participant, query_by_id): current memberships */
PT_API_FUNCTION(participants_participant_segments)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	bool		query_by_id = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = ResolveParticipant(project_id, PG_GETARG_TEXT_PP(1), query_by_id);
	res = PtJsonbStatement(&plan,
					  "SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					  "'segmentID', s.id, 'segmentName', s.name, 'addDate', m.add_date) "
					  "ORDER BY m.add_date, m.id), '[]') "
					  "FROM participants.segment_membership m "
					  "JOIN participants.segment s ON s.project_id = m.project_id AND s.id = m.segment_id "
					  "WHERE m.project_id = $1 AND m.participant_id = $2 AND m.remove_date IS NULL",
					  2, types, args, NULL, true);
	if (res == NULL)
		elog(ERROR, "participant segments returned no row");
	PG_RETURN_JSONB_P(res);
}

