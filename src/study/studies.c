/*
 * study/studies.c
 *		Studies (doc/studies.md): create_study, update_study, get_study,
 *		add_study_participants, set_participant_status, study_participants,
 *		status_history, eligible_participants and events_since. The rules
 *		of a status change live in status.c's trigger, so that a raw UPDATE
 *		is held to them too; these functions resolve names, check arguments
 *		and say what went wrong in the caller's terms.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "study/study.h"

/* The study object (doc/studies.md), for study st of project $1 (see SEGMENT_JSON) */
#define STUDY_JSON STUDY_JSON_WITH(STUDY_REQUIRED_JSON)
/* the same before 0.5.0's tables (PtHaveGovernance) */
#define STUDY_JSON_OLD STUDY_JSON_WITH("'[]'::pg_catalog.jsonb")
#define STUDY_REQUIRED_JSON \
	"coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"'name', rc.name, 'minVersion', rc.min_version, 'scopes', pg_catalog.to_jsonb(rc.scopes)) " \
	"ORDER BY rc.position, rc.name) FROM participants.study_consent rc WHERE rc.project_id = $1 " \
	"AND rc.study_id = st.id), '[]')"
#define STUDY_JSON_WITH(required) \
	"pg_catalog.jsonb_build_object('studyID', st.id, 'studyName', st.name, " \
	"'allowlist', coalesce((SELECT pg_catalog.jsonb_agg(ss.segment_id ORDER BY ss.position) " \
	"FROM participants.study_segment ss WHERE ss.project_id = $1 " \
	"AND ss.study_id = st.id AND ss.list = 'allowlist'), '[]'), " \
	"'blocklist', coalesce((SELECT pg_catalog.jsonb_agg(ss.segment_id ORDER BY ss.position) " \
	"FROM participants.study_segment ss WHERE ss.project_id = $1 " \
	"AND ss.study_id = st.id AND ss.list = 'blocklist'), '[]'), " \
	"'completionCodes', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"'code', c.code, 'actions', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"'action', a.action, 'segmentID', a.segment_id) ORDER BY a.position) " \
	"FROM participants.completion_action a WHERE a.project_id = $1 " \
	"AND a.study_id = c.study_id AND a.code = c.code), '[]')) ORDER BY c.position) " \
	"FROM participants.completion_code c WHERE c.project_id = $1 " \
	"AND c.study_id = st.id), '[]'), " \
	"'requiredConsents', " required ", " \
	"'createdDate', st.created_date, " \
	"'participantCount', (SELECT pg_catalog.count(*) FROM participants.study_participant sp " \
	"WHERE sp.project_id = $1 AND sp.study_id = st.id))"

#define MAX_CODE_LEN 100

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------
 */

static void
StudyNotFound(pg_uuid_t *study_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("study %s not found", PtUuidText(study_id))));
}

/*
 * PT404 unless the study is in the project; with "lock", its row is locked
 * (FOR UPDATE, to change it; FOR KEY SHARE otherwise)
 */
static void
CheckStudy(pg_uuid_t *project_id, pg_uuid_t *study_id, int lock)
{
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	static const char *const sql[3] = {
		"SELECT 1 FROM participants.study WHERE project_id = $1 AND id = $2",
		"SELECT 1 FROM participants.study WHERE project_id = $1 AND id = $2 FOR KEY SHARE",
		"SELECT 1 FROM participants.study WHERE project_id = $1 AND id = $2 FOR UPDATE",
	};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	if (!PtRowExists(&plans[lock], sql[lock], 2, types, args, NULL, lock == 0))
		StudyNotFound(study_id);
}

#define STUDY_READ 0
#define STUDY_KEY_SHARE 1
#define STUDY_FOR_UPDATE 2

static Jsonb *
StudyObject(pg_uuid_t *project_id, pg_uuid_t *study_id, bool read_only)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	if (!PtHaveGovernance())
		return PtJsonbStatement(&plans[0], "SELECT " STUDY_JSON_OLD " FROM participants.study st "
								"WHERE st.project_id = $1 AND st.id = $2", 2, types, args, NULL, read_only);
	return PtJsonbStatement(&plans[1], "SELECT " STUDY_JSON " FROM participants.study st "
						"WHERE st.project_id = $1 AND st.id = $2", 2, types, args, NULL, read_only);
}

/* ------------------------------------------------------------------------
 * Allowlist and blocklist
 * ------------------------------------------------------------------------
 */
typedef struct SegmentList
{
	const char *name;			/* "allowlist" or "blocklist" */
	bool		given;			/* replace the stored list */
	int			n;
	Datum	   *ids;
} SegmentList;

/* The elements of a uuid[] argument; 22023 for a null element or a repeat */
static void
ListFromArray(SegmentList *l, ArrayType *arr)
{
	bool	   *nulls;
	int			i,
				j;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": expected a one-dimensional array of segment ids", l->name)));
	deconstruct_array(arr, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &l->ids, &nulls, &l->n);
	for (i = 0; i < l->n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s[%d]\": null", l->name, i)));
		for (j = 0; j < i; j++)
			if (memcmp(DatumGetUUIDP(l->ids[i])->data, DatumGetUUIDP(l->ids[j])->data, UUID_LEN) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"%s[%d]\": segment %s is listed twice",
								l->name, i, PtUuidText(DatumGetUUIDP(l->ids[i])))));
	}
	l->given = true;
}

/* The stored list of a study */
static void
ListFromStudy(SegmentList *l, pg_uuid_t *project_id, pg_uuid_t *study_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];
	MemoryContext cxt = CurrentMemoryContext;
	uint64		i;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	args[2] = CStringGetTextDatum(l->name);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT segment_id FROM participants.study_segment "
					  "WHERE project_id = $1 AND study_id = $2 AND list = $3 ORDER BY position", 3, types);
	if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the study's %s", l->name);
	l->n = (int) SPI_processed;
	l->ids = MemoryContextAlloc(cxt, sizeof(Datum) * Max(l->n, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		pg_uuid_t  *id = MemoryContextAlloc(cxt, sizeof(pg_uuid_t));

		memcpy(id->data, DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
													 1, &isnull))->data, UUID_LEN);
		l->ids[i] = UUIDPGetDatum(id);
	}
	SPI_finish();
	l->given = false;
}

static ArrayType *
UuidArray(Datum *ids, int n)
{
	return construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
}

/*
 * Each segment of ids exists in the project (PT404 naming key[i]) and, for
 * completion code actions (need_static), is static (PT409); keys[i] names
 * element i
 */
static void
CheckSegments(pg_uuid_t *project_id, Datum *ids, int n, char **keys, bool need_static)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDARRAYOID};
	Datum		args[2];
	uint64		i;
	int			missing = -1;
	int			dynamic = -1;

	if (n == 0)
		return;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(UuidArray(ids, n));
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT a.n, s.kind FROM pg_catalog.unnest($2) WITH ORDINALITY a(id, n) "
					  "LEFT JOIN participants.segment s ON s.project_id = $1 AND s.id = a.id "
					  "ORDER BY a.n", 2, types);
	if (PtExecutePlan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int			k = (int) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)) - 1;
		Datum		kind = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

		if (isnull && missing < 0)
			missing = k;
		else if (!isnull && dynamic < 0 && strcmp(TextDatumGetCString(kind), "dynamic") == 0)
			dynamic = k;
	}

	/*
	 * Hold the segments as a foreign key would (completion_action has none,
	 * see the extension script): a concurrent delete_segment waits for us and
	 * then sees the study using them.
	 */
	if (need_static && missing < 0)
	{
		if (lock_plan == NULL)
			PtPreparePlan(&lock_plan, "SELECT 1 FROM participants.segment WHERE project_id = $1 "
						  "AND id = ANY ($2) ORDER BY id FOR KEY SHARE", 2, types);
		if (PtExecutePlan(lock_plan, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock segments");
	}
	SPI_finish();
	if (missing >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("segment %s not found", PtUuidText(DatumGetUUIDP(ids[missing]))),
				 errdetail("At key \"%s\".", keys[missing]),
				 errhint("list_segments(project_id) lists the project's segments.")));
	if (need_static && dynamic >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("segment %s is dynamic: its members follow its filter", PtUuidText(DatumGetUUIDP(ids[dynamic]))),
				 errdetail("At key \"%s\".", keys[dynamic]),
				 errhint("A completion code adds to or removes from a static segment.")));
}

/* Check the lists: segments exist, none is in both */
static void
CheckLists(pg_uuid_t *project_id, SegmentList *allow, SegmentList *block)
{
	int			i,
				j;

	for (i = 0; i < 2; i++)
	{
		SegmentList *l = i == 0 ? allow : block;
		char	  **keys;

		if (!l->given)
			continue;
		keys = palloc(sizeof(char *) * Max(l->n, 1));
		for (j = 0; j < l->n; j++)
			keys[j] = psprintf("%s[%d]", l->name, j);
		CheckSegments(project_id, l->ids, l->n, keys, false);
	}
	for (i = 0; i < block->n; i++)
		for (j = 0; j < allow->n; j++)
			if (memcmp(DatumGetUUIDP(block->ids[i])->data, DatumGetUUIDP(allow->ids[j])->data, UUID_LEN) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"%s[%d]\": segment %s is in both the allowlist and the blocklist",
								allow->given ? "allowlist" : "blocklist", allow->given ? j : i,
								PtUuidText(DatumGetUUIDP(allow->ids[j])))));
}

/* Replace the given lists of a study */
static void
WriteLists(pg_uuid_t *project_id, pg_uuid_t *study_id, SegmentList *lists[2])
{
	static SPIPlanPtr del = NULL;
	static SPIPlanPtr ins = NULL;
	Oid			types[4] = {UUIDOID, UUIDOID, TEXTOID, UUIDARRAYOID};
	Datum		args[4];
	int			pass,
				i;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	SPI_connect();
	if (del == NULL)
	{
		PtPreparePlan(&del, "DELETE FROM participants.study_segment "
					  "WHERE project_id = $1 AND study_id = $2 AND list = $3", 3, types);
		PtPreparePlan(&ins, "INSERT INTO participants.study_segment "
					  "(project_id, study_id, segment_id, list, position) "
					  "SELECT $1, $2, a.id, $3, a.n FROM pg_catalog.unnest($4) WITH ORDINALITY a(id, n)",
					  4, types);
	}
	/* both deletes first: a segment may move from one list to the other */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < 2; i++)
		{
			if (!lists[i]->given)
				continue;
			args[2] = CStringGetTextDatum(lists[i]->name);
			args[3] = PointerGetDatum(UuidArray(lists[i]->ids, lists[i]->n));
			if (PtExecutePlan(pass == 0 ? del : ins, args, NULL, false, 0) < 0)
				elog(ERROR, "could not write the study's %s", lists[i]->name);
		}
	SPI_finish();
}

/* ------------------------------------------------------------------------
 * Completion codes
 * ------------------------------------------------------------------------
 */
typedef struct Codes
{
	int			ncodes;
	Datum	   *codes;			/* text */
	int			nactions;
	Datum	   *action_code;	/* text */
	Datum	   *action_pos;		/* int4 */
	Datum	   *action_kind;	/* text */
	Datum	   *action_segment; /* uuid */
	char	  **action_keys;
	int			capacity;		/* of the action arrays */
} Codes;

/* Room for "more" further actions */
static void
GrowActions(Codes *c, int more)
{
	int			need = c->nactions + more;

	if (need <= c->capacity)
		return;
	need = Max(need, 2 * c->capacity);
	if (c->capacity == 0)
	{
		c->action_code = palloc(sizeof(Datum) * need);
		c->action_pos = palloc(sizeof(Datum) * need);
		c->action_kind = palloc(sizeof(Datum) * need);
		c->action_segment = palloc(sizeof(Datum) * need);
		c->action_keys = palloc(sizeof(char *) * need);
	}
	else
	{
		c->action_code = repalloc(c->action_code, sizeof(Datum) * need);
		c->action_pos = repalloc(c->action_pos, sizeof(Datum) * need);
		c->action_kind = repalloc(c->action_kind, sizeof(Datum) * need);
		c->action_segment = repalloc(c->action_segment, sizeof(Datum) * need);
		c->action_keys = repalloc(c->action_keys, sizeof(char *) * need);
	}
	c->capacity = need;
}

static void
CodeKeyError(const char *key, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key \"%s\": %s", key, problem),
			 errhint("completion_codes: [{\"code\": \"X\", \"actions\": [{\"action\": \"ADD_TO_SEGMENT\" | \"REMOVE_FROM_SEGMENT\", \"segmentID\": \"...\"}]}]")));
}

/* Parse one action object of a code */
static void
ParseAction(Codes *c, JsonbValue *obj, const char *key, const char *code, int pos)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *action = NULL;
	pg_uuid_t  *segment = NULL;

	if (obj->type != jbvBinary || !JsonContainerIsObject(obj->val.binary.data))
		CodeKeyError(key, "expected an object");
	it = JsonbIteratorInit(obj->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *k;
		char	   *sub;

		if (tok != WJB_KEY)
			continue;
		k = pnstrdup(v.val.string.val, v.val.string.len);
		sub = psprintf("%s.%s", key, k);
		(void) JsonbIteratorNext(&it, &v, true);
		if (strcmp(k, "action") == 0)
		{
			if (v.type != jbvString)
				CodeKeyError(sub, psprintf("expected a string, got %s", PtJsonbTypeName(&v)));
			action = pnstrdup(v.val.string.val, v.val.string.len);
			if (strcmp(action, "ADD_TO_SEGMENT") != 0 && strcmp(action, "REMOVE_FROM_SEGMENT") != 0)
				CodeKeyError(sub, psprintf("\"%s\" is not ADD_TO_SEGMENT or REMOVE_FROM_SEGMENT", action));
		}
		else if (strcmp(k, "segmentID") == 0)
		{
			if (v.type != jbvString)
				CodeKeyError(sub, psprintf("expected a segment id, got %s", PtJsonbTypeName(&v)));
			segment = palloc(sizeof(pg_uuid_t));
			PtParseUuid(pnstrdup(v.val.string.val, v.val.string.len), sub, segment);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\"", sub),
					 errhint("An action has the keys action and segmentID.")));
	}
	if (action == NULL)
		CodeKeyError(psprintf("%s.action", key), "missing");
	if (segment == NULL)
		CodeKeyError(psprintf("%s.segmentID", key), "missing");
	c->action_code[c->nactions] = CStringGetTextDatum(code);
	c->action_pos[c->nactions] = Int32GetDatum(pos);
	c->action_kind[c->nactions] = CStringGetTextDatum(action);
	c->action_segment[c->nactions] = UUIDPGetDatum(segment);
	c->action_keys[c->nactions] = psprintf("%s.segmentID", key);
	c->nactions++;
}

/* Parse and check the completion_codes argument */
static void
ParseCodes(pg_uuid_t *project_id, Jsonb *jb, Codes *c)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			max;
	int			i,
				j;

	memset(c, 0, sizeof(*c));
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		CodeKeyError("completion_codes", "expected an array");
	max = JB_ROOT_COUNT(jb) + 1;
	c->codes = palloc(sizeof(Datum) * max);
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		char	   *code = NULL;
		JsonbValue	actions;
		bool		has_actions = false;
		JsonbIterator *it2;
		JsonbValue	kv;
		JsonbIteratorToken tok2;

		if (tok != WJB_ELEM)
			continue;
		key = psprintf("completion_codes[%d]", c->ncodes);
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			CodeKeyError(key, psprintf("expected an object, got %s", PtJsonbTypeName(&v)));
		it2 = JsonbIteratorInit(v.val.binary.data);
		while ((tok2 = JsonbIteratorNext(&it2, &kv, true)) != WJB_DONE)
		{
			char	   *k;
			char	   *sub;

			if (tok2 != WJB_KEY)
				continue;
			k = pnstrdup(kv.val.string.val, kv.val.string.len);
			sub = psprintf("%s.%s", key, k);
			(void) JsonbIteratorNext(&it2, &kv, true);
			if (strcmp(k, "code") == 0)
			{
				const char *p;

				if (kv.type != jbvString)
					CodeKeyError(sub, psprintf("expected a string, got %s", PtJsonbTypeName(&kv)));
				code = pnstrdup(kv.val.string.val, kv.val.string.len);
				if (code[0] == '\0' || pg_mbstrlen(code) > MAX_CODE_LEN)
					CodeKeyError(sub, psprintf("a code has 1 to %d characters", MAX_CODE_LEN));
				for (p = code; *p; p++)
					if ((unsigned char) *p < 0x20 || *p == 0x7f)
						CodeKeyError(sub, "control characters are not allowed");
			}
			else if (strcmp(k, "actions") == 0)
			{
				if (kv.type != jbvBinary || !JsonContainerIsArray(kv.val.binary.data))
					CodeKeyError(sub, psprintf("expected an array, got %s", PtJsonbTypeName(&kv)));
				actions = kv;
				has_actions = true;
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown key \"%s\"", sub),
						 errhint("A completion code has the keys code and actions.")));
		}
		if (code == NULL)
			CodeKeyError(psprintf("%s.code", key), "missing");
		for (j = 0; j < c->ncodes; j++)
			if (strcmp(TextDatumGetCString(c->codes[j]), code) == 0)
				CodeKeyError(psprintf("%s.code", key), psprintf("\"%s\" is defined twice", code));
		c->codes[c->ncodes] = CStringGetTextDatum(code);
		if (has_actions)
		{
			int			n = JsonContainerSize(actions.val.binary.data);
			JsonbIterator *it3 = JsonbIteratorInit(actions.val.binary.data);
			JsonbValue	av;
			int			pos = 0;
			int			first = c->nactions;

			GrowActions(c, n);
			while ((tok2 = JsonbIteratorNext(&it3, &av, true)) != WJB_DONE)
			{
				if (tok2 != WJB_ELEM)
					continue;
				ParseAction(c, &av, psprintf("%s.actions[%d]", key, pos), code, pos);
				pos++;
			}
			/* one action per segment and code: their order cannot matter */
			for (i = first; i < c->nactions; i++)
				for (j = first; j < i; j++)
					if (memcmp(DatumGetUUIDP(c->action_segment[i])->data,
							   DatumGetUUIDP(c->action_segment[j])->data, UUID_LEN) == 0)
						CodeKeyError(c->action_keys[i], "the code already has an action on this segment");
		}
		c->ncodes++;
	}
	CheckSegments(project_id, c->action_segment, c->nactions, c->action_keys, true);
}

/* Replace a study's completion codes */
static void
WriteCodes(pg_uuid_t *project_id, pg_uuid_t *study_id, Codes *c)
{
	static SPIPlanPtr del = NULL;
	static SPIPlanPtr ins_codes = NULL;
	static SPIPlanPtr ins_actions = NULL;
	Oid			types[6] = {UUIDOID, UUIDOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, UUIDARRAYOID};
	Datum		args[6];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	SPI_connect();
	if (del == NULL)
	{
		PtPreparePlan(&del, "DELETE FROM participants.completion_code "
					  "WHERE project_id = $1 AND study_id = $2", 2, types);
		PtPreparePlan(&ins_codes, "INSERT INTO participants.completion_code "
					  "(project_id, study_id, code, position) "
					  "SELECT $1, $2, a.code, a.n FROM pg_catalog.unnest($3) WITH ORDINALITY a(code, n)",
					  3, types);
		PtPreparePlan(&ins_actions, "INSERT INTO participants.completion_action "
					  "(project_id, study_id, code, position, action, segment_id) "
					  "SELECT $1, $2, a.code, a.pos, a.action, a.segment "
					  "FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
					  "pg_catalog.unnest($6)) a(code, pos, action, segment)",
					  6, types);
	}
	if (PtExecutePlan(del, args, NULL, false, 0) < 0)
		elog(ERROR, "could not delete completion codes");
	args[2] = PointerGetDatum(construct_array(c->codes, c->ncodes, TEXTOID, -1, false, TYPALIGN_INT));
	if (PtExecutePlan(ins_codes, args, NULL, false, 0) < 0)
		elog(ERROR, "could not write completion codes");
	args[2] = PointerGetDatum(construct_array(c->action_code, c->nactions, TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(c->action_pos, c->nactions, INT4OID, 4, true, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_array(c->action_kind, c->nactions, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(UuidArray(c->action_segment, c->nactions));
	if (PtExecutePlan(ins_actions, args, NULL, false, 0) < 0)
		elog(ERROR, "could not write completion code actions");
	SPI_finish();
}

/* ------------------------------------------------------------------------
 * Required consents
 * ------------------------------------------------------------------------
 */
typedef struct Required
{
	int			n;
	Datum	   *names;
	Datum	   *versions;
	Datum	   *scopes;			/* text[] each */
} Required;

static void
RequiredError(int i, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for \"required_consents[%d]\": %s", i, problem),
			 errhint("required_consents is [{\"name\": \"main\", \"minVersion\": 1, \"scopes\": [\"contact\"]}, ...].")));
}

/*
 * Parse required_consents: an array of {"name", "minVersion" (default 1),
 * "scopes" (default none)}; each version must exist (PT404), each scope be
 * one of it (study_consent_guard says so otherwise)
 */
static void
ParseRequired(pg_uuid_t *project_id, Jsonb *jb, Required *r)
{
	static SPIPlanPtr plan = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			max;

	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"required_consents\": expected an array"),
				 errhint("required_consents is [{\"name\": \"main\", \"minVersion\": 1, \"scopes\": [\"contact\"]}, ...].")));
	max = Max(JB_ROOT_COUNT(jb), 1);
	r->n = 0;
	r->names = palloc(sizeof(Datum) * max);
	r->versions = palloc(sizeof(Datum) * max);
	r->scopes = palloc(sizeof(Datum) * max);
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbIterator *kit;
		JsonbValue	k;
		JsonbIteratorToken ktok;
		char	   *name = NULL;
		int			version = 1;
		Datum	   *sc = palloc(sizeof(Datum) * 1);
		int			nsc = 0;
		int			i = r->n;
		int			j;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			RequiredError(i, psprintf("expected an object, not %s", PtJsonbTypeName(&v)));
		kit = JsonbIteratorInit(v.val.binary.data);
		while ((ktok = JsonbIteratorNext(&kit, &k, true)) != WJB_DONE)
		{
			char	   *key;
			JsonbValue	val;

			if (ktok != WJB_KEY)
				continue;
			key = pnstrdup(k.val.string.val, k.val.string.len);
			(void) JsonbIteratorNext(&kit, &val, true);
			if (strcmp(key, "name") == 0)
			{
				if (val.type != jbvString || val.val.string.len == 0)
					RequiredError(i, "\"name\" must be a consent's name");
				name = pnstrdup(val.val.string.val, val.val.string.len);
			}
			else if (strcmp(key, "minVersion") == 0)
			{
				if (val.type != jbvNumeric || !PtNumericIsWhole(val.val.numeric))
					RequiredError(i, "\"minVersion\" must be a whole number");
				version = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(val.val.numeric)));
				if (version < 1)
					RequiredError(i, "\"minVersion\" must be 1 or more");
			}
			else if (strcmp(key, "scopes") == 0)
			{
				JsonbIterator *sit;
				JsonbValue	sv;
				JsonbIteratorToken stok;

				if (val.type != jbvBinary || !JsonContainerIsArray(val.val.binary.data))
					RequiredError(i, "\"scopes\" must be an array of strings");
				sc = palloc(sizeof(Datum) * Max(JsonContainerSize(val.val.binary.data), 1));
				sit = JsonbIteratorInit(val.val.binary.data);
				while ((stok = JsonbIteratorNext(&sit, &sv, true)) != WJB_DONE)
				{
					if (stok != WJB_ELEM)
						continue;	/* the array's bounds */
					if (sv.type != jbvString)
						RequiredError(i, "\"scopes\" must be an array of strings");
					sc[nsc++] = PointerGetDatum(cstring_to_text_with_len(sv.val.string.val, sv.val.string.len));
				}
			}
			else
				RequiredError(i, psprintf("unknown key \"%s\"", key));
		}
		if (name == NULL)
			RequiredError(i, "\"name\" is missing");
		for (j = 0; j < i; j++)
			if (strcmp(TextDatumGetCString(r->names[j]), name) == 0)
				RequiredError(i, psprintf("consent \"%s\" is named twice", name));
		{
			Oid			types[3] = {UUIDOID, TEXTOID, INT4OID};
			Datum		args[3];
			Datum		v;
			bool		isnull;
			bool		found;
			Datum	   *have = NULL;
			int			nhave = 0;
			MemoryContext cxt = CurrentMemoryContext;

			args[0] = UUIDPGetDatum(project_id);
			args[1] = CStringGetTextDatum(name);
			args[2] = Int32GetDatum(version);
			SPI_connect();
			found = PtRunValue(&plan, "SELECT scopes FROM participants.consent WHERE project_id = $1 "
							   "AND name = $2 AND version = $3 FOR KEY SHARE", 3, types, args, NULL, false,
							   &v, &isnull);
			if (found)
			{
				MemoryContextSwitchTo(cxt);
				deconstruct_array(DatumGetArrayTypePCopy(v), TEXTOID, -1, false, TYPALIGN_INT, &have, NULL, &nhave);
			}
			SPI_finish();
			if (!found)
				ereport(ERROR,
						(errcode(ERRCODE_PT_NOT_FOUND),
						 errmsg("consent \"%s\" version %d not found (required_consents[%d])", name, version, i),
						 errhint("define_consent defines a consent and its versions.")));
			for (j = 0; j < nsc; j++)
			{
				int			k;
				char	   *want = TextDatumGetCString(sc[j]);

				for (k = 0; k < nhave; k++)
					if (strcmp(TextDatumGetCString(have[k]), want) == 0)
						break;
				if (k == nhave)
					RequiredError(i, psprintf("scope \"%s\" is not a scope of consent \"%s\" version %d",
											  want, name, version));
			}
		}
		r->names[i] = CStringGetTextDatum(name);
		r->versions[i] = Int32GetDatum(version);
		r->scopes[i] = PointerGetDatum(construct_array(sc, nsc, TEXTOID, -1, false, TYPALIGN_INT));
		r->n++;
	}
}

/* Replace the study's required consents */
static void
WriteRequired(pg_uuid_t *project_id, pg_uuid_t *study_id, Required *r)
{
	static SPIPlanPtr del = NULL;
	static SPIPlanPtr ins = NULL;
	Oid			types[6] = {UUIDOID, UUIDOID, TEXTOID, INT4OID, TEXTARRAYOID, INT4OID};
	Datum		args[6];
	int			i;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	SPI_connect();
	if (del == NULL)
	{
		PtPreparePlan(&del, "DELETE FROM participants.study_consent WHERE project_id = $1 AND study_id = $2", 2, types);
		PtPreparePlan(&ins, "INSERT INTO participants.study_consent (project_id, study_id, name, min_version, scopes, position) "
					  "VALUES ($1, $2, $3, $4, $5, $6)", 6, types);
	}
	if (PtExecutePlan(del, args, NULL, false, 0) < 0)
		elog(ERROR, "could not write required consents");
	for (i = 0; i < r->n; i++)
	{
		args[2] = r->names[i];
		args[3] = r->versions[i];
		args[4] = r->scopes[i];
		args[5] = Int32GetDatum(i);
		if (PtExecutePlan(ins, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write required consents");
	}
	SPI_finish();
}

/* ------------------------------------------------------------------------
 * Study functions
 * ------------------------------------------------------------------------
 */

/* create_study(project_id, name, allowlist, blocklist, completion_codes) */
PT_API_FUNCTION(participants_create_study)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id = palloc(sizeof(pg_uuid_t));
	char	   *name;
	SegmentList allow = {"allowlist"};
	SegmentList block = {"blocklist"};
	SegmentList *lists[2] = {&allow, &block};
	Codes		codes;
	Required	required;
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "name");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	name = PtCheckName(PG_GETARG_TEXT_PP(1), "study");
	if (!PG_ARGISNULL(2))
		ListFromArray(&allow, PG_GETARG_ARRAYTYPE_P(2));
	if (!PG_ARGISNULL(3))
		ListFromArray(&block, PG_GETARG_ARRAYTYPE_P(3));
	allow.given = block.given = true;
	CheckLists(project_id, &allow, &block);
	if (PG_ARGISNULL(4))
		memset(&codes, 0, sizeof(codes));
	else
		ParseCodes(project_id, PG_GETARG_JSONB_P(4), &codes);
	memset(&required, 0, sizeof(required));
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		ParseRequired(project_id, PG_GETARG_JSONB_P(5), &required);

	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	SPI_connect();
	if (!PtRunValue(&plan, "INSERT INTO participants.study (project_id, id, name) "
				  "VALUES ($1, pg_catalog.gen_random_uuid(), $2) RETURNING id",
				  2, types, args, NULL, false, &v, &isnull))
		elog(ERROR, "study insert returned no row");
	memcpy(study_id->data, DatumGetUUIDP(v)->data, UUID_LEN);
	SPI_finish();
	WriteLists(project_id, study_id, lists);
	WriteCodes(project_id, study_id, &codes);
	if (required.n > 0)
		WriteRequired(project_id, study_id, &required);
	PG_RETURN_JSONB_P(StudyObject(project_id, study_id, false));
}

/* update_study(project_id, study_id, name, allowlist, blocklist, completion_codes) */
PT_API_FUNCTION(participants_update_study)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	SegmentList allow = {"allowlist"};
	SegmentList block = {"blocklist"};
	SegmentList *lists[2] = {&allow, &block};
	Codes		codes;
	Required	required;
	char	   *name = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	if (!PG_ARGISNULL(2))
		name = PtCheckName(PG_GETARG_TEXT_PP(2), "study");
	if (!PG_ARGISNULL(3))
		ListFromArray(&allow, PG_GETARG_ARRAYTYPE_P(3));
	if (!PG_ARGISNULL(4))
		ListFromArray(&block, PG_GETARG_ARRAYTYPE_P(4));
	CheckStudy(project_id, study_id, STUDY_FOR_UPDATE);
	if (!allow.given)
		ListFromStudy(&allow, project_id, study_id);
	if (!block.given)
		ListFromStudy(&block, project_id, study_id);
	CheckLists(project_id, &allow, &block);
	if (!PG_ARGISNULL(5))
		ParseCodes(project_id, PG_GETARG_JSONB_P(5), &codes);
	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
		ParseRequired(project_id, PG_GETARG_JSONB_P(6), &required);

	if (name)
	{
		Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
		Datum		args[3];
		Datum		v;
		bool		isnull;

		args[0] = UUIDPGetDatum(project_id);
		args[1] = UUIDPGetDatum(study_id);
		args[2] = CStringGetTextDatum(name);
		SPI_connect();
		(void) PtRunValue(&plan, "UPDATE participants.study SET name = $3 "
						"WHERE project_id = $1 AND id = $2 RETURNING 1",
						3, types, args, NULL, false, &v, &isnull);
		SPI_finish();
	}
	WriteLists(project_id, study_id, lists);
	if (!PG_ARGISNULL(5))
		WriteCodes(project_id, study_id, &codes);
	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
		WriteRequired(project_id, study_id, &required);
	PG_RETURN_JSONB_P(StudyObject(project_id, study_id, false));
}

/* get_study(project_id, study_id) */
PT_API_FUNCTION(participants_get_study)
{
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	res = StudyObject(project_id, study_id, true);
	if (res == NULL)
		StudyNotFound(study_id);
	PG_RETURN_JSONB_P(res);
}

/* list_studies(project_id, page_number, page_size): a page of studies, by name */
PT_API_FUNCTION(participants_list_studies)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	pg_uuid_t  *project_id;
	int32		page_number = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int32		page_size = PG_ARGISNULL(2) ? 20 : PG_GETARG_INT32(2);
	Oid			types[4] = {UUIDOID, INT4OID, INT4OID, INT8OID};
	Datum		args[4];

	PtNotNull(fcinfo, 0, "project_id");
	PtCheckPaging(page_number, page_size, "studies");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = Int32GetDatum(page_number);
	args[2] = Int32GetDatum(page_size);
	args[3] = Int64GetDatum((int64) page_number * page_size);
#define LIST_STUDIES(json) \
	"SELECT pg_catalog.jsonb_build_object('pageNumber', $2, 'pageSize', $3, " \
	"'totalStudies', (SELECT pg_catalog.count(*) FROM participants.study s WHERE s.project_id = $1), " \
	"'studies', COALESCE((SELECT pg_catalog.jsonb_agg(" json " ORDER BY st.name, st.id) " \
	"FROM (SELECT * FROM participants.study s WHERE s.project_id = $1 " \
	"ORDER BY s.name, s.id LIMIT $3 OFFSET $4) st), '[]'))"
	if (!PtHaveGovernance())
		PG_RETURN_JSONB_P(PtJsonbStatement(&plans[0], LIST_STUDIES(STUDY_JSON_OLD), 4, types, args, NULL, true));
	PG_RETURN_JSONB_P(PtJsonbStatement(&plans[1], LIST_STUDIES(STUDY_JSON), 4, types, args, NULL, true));
}

/* ------------------------------------------------------------------------
 * Study participants
 * ------------------------------------------------------------------------
 */

/* Why a participant cannot join, by its place in the sorted distinct ids */
typedef struct Candidate
{
	Datum		id;
	const char *reason;			/* NULL: to add */
	bool		seen;			/* named before in the list */
} Candidate;

static Candidate *
FindCandidate(Candidate *c, int n, Datum id)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			cmp = PtUuidCmp(&c[mid].id, &id);

		if (cmp == 0)
			return &c[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	elog(ERROR, "participant missing from its own list");
	return NULL;
}

/*
 * Check each candidate (distinct ids, sorted): withdrawn, opted out,
 * already in the study, or not eligible gives its reason; the others go to
 * adds. Locks their rows FOR SHARE, in id order (an opt-out or withdrawal
 * waits for this call, and its cascade then sees the rows it added).
 * Inside SPI.
 */
static int
CheckCandidates(Datum *args, Candidate *cand, int nd, Datum *sorted, Datum *adds)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};
	int			nadd = 0;
	uint64		r;
	bool		g = PtHaveGovernance();

	if (plans[g] == NULL)
		PtPreparePlan(&plans[g], psprintf("SELECT p.id, p.withdraw_date IS NOT NULL, p.opted_out, "
					  "EXISTS (SELECT 1 FROM participants.study_participant sp "
					  "WHERE sp.project_id = $1 AND sp.study_id = $2 AND sp.participant_id = p.id), "
					  PT_STUDY_LISTS_SQL("$1", "$2") ", %s "
					  "FROM participants.participant p WHERE p.project_id = $1 AND p.id = ANY ($3) "
					  "ORDER BY p.id FOR SHARE OF p", g ? PT_STUDY_CONSENT_SQL("$1", "$2") : "true"), 3, types);
	args[2] = PointerGetDatum(UuidArray(sorted, nd));
	if (PtExecutePlan(plans[g], args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the participants");
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		Candidate  *c = FindCandidate(cand, nd, SPI_getbinval(t, d, 1, &isnull));

		if (DatumGetBool(SPI_getbinval(t, d, 2, &isnull)))
			c->reason = "withdrawn";
		else if (DatumGetBool(SPI_getbinval(t, d, 3, &isnull)))
			c->reason = "opted_out";
		else if (DatumGetBool(SPI_getbinval(t, d, 4, &isnull)))
			c->reason = "already_in_study";
		else if (!DatumGetBool(SPI_getbinval(t, d, 5, &isnull)))
			c->reason = "not_eligible";
		else if (!DatumGetBool(SPI_getbinval(t, d, 6, &isnull)))
			c->reason = "no_consent";
		else
			adds[nadd++] = c->id;
	}
	return nadd;
}

/*
 * Insert the checked candidates at NOT_STARTED (their first events come
 * from the trigger); a row another call added first makes its candidate
 * already_in_study. The number added. Inside SPI.
 */
static int64
InsertCandidates(Datum *args, Candidate *cand, int nd, Datum *adds, int nadd)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};
	Datum	   *got;
	uint64		r;
	int			i;

	if (plan == NULL)
		PtPreparePlan(&plan, "INSERT INTO participants.study_participant "
					  "(project_id, id, study_id, participant_id, status) "
					  "SELECT $1, pg_catalog.gen_random_uuid(), $2, a.id, 'NOT_STARTED' "
					  "FROM pg_catalog.unnest($3) a(id) "
					  "ON CONFLICT (project_id, study_id, participant_id) DO NOTHING "
					  "RETURNING participant_id", 3, types);
	args[2] = PointerGetDatum(UuidArray(adds, nadd));
	pt_study_add_checked = true;
	PG_TRY();
	{
		if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not add study participants");
	}
	PG_FINALLY();
	{
		pt_study_add_checked = false;
	}
	PG_END_TRY();
	if (SPI_processed == (uint64) nadd)
		return nadd;
	got = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		got[r] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
	}
	qsort(got, SPI_processed, sizeof(Datum), PtUuidCmp);
	for (i = 0; i < nadd; i++)
		if (bsearch(&adds[i], got, SPI_processed, sizeof(Datum), PtUuidCmp) == NULL)
			FindCandidate(cand, nd, adds[i])->reason = "already_in_study";
	return (int64) SPI_processed;
}

/* {"added": n, "skipped": [{"participant", "reason"}, ...]}, in the list's order */
static Jsonb *
AddResult(int64 added, Candidate *cand, int nd, Datum *ids, char **texts, int n)
{
	JsonbParseState *state = NULL;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "added", added);
	PtPushKey(&state, "skipped");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < n; i++)
	{
		Candidate  *c = FindCandidate(cand, nd, ids[i]);
		const char *reason = c->reason;

		/* a participant named twice: the second time it is in the study */
		if (c->seen && (reason == NULL || strcmp(reason, "already_in_study") == 0))
			reason = "already_in_study";
		c->seen = true;
		if (reason == NULL)
			continue;
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		PtPushString(&state, "participant", texts[i]);
		PtPushString(&state, "reason", reason);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* add_study_participants(project_id, study_id, participants, query_by_id) */
PT_API_FUNCTION(participants_add_study_participants)
{
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	bool		query_by_id = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	char	  **texts;
	Datum	   *ids;
	int			n,
				nd,
				nadd = 0,
				i;
	Candidate  *cand;
	Datum	   *adds;
	int64		added = 0;
	Datum		args[3];
	Datum	   *sorted;
	MemoryContext cxt = CurrentMemoryContext;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	PtNotNull(fcinfo, 2, "participants");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	CheckStudy(project_id, study_id, STUDY_KEY_SHARE);
	ids = PtResolveParticipantList(project_id, PG_GETARG_JSONB_P(2), query_by_id, &n, &texts);

	/* distinct ids in order: rows are locked in that order (no deadlock) */
	sorted = palloc(sizeof(Datum) * Max(n, 1));
	memcpy(sorted, ids, sizeof(Datum) * n);
	nd = PtSortDistinctIds(sorted, n);
	cand = palloc0(sizeof(Candidate) * Max(nd, 1));
	for (i = 0; i < nd; i++)
		cand[i].id = sorted[i];
	adds = palloc(sizeof(Datum) * Max(nd, 1));

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	SPI_connect();
	if (nd > 0)
		nadd = CheckCandidates(args, cand, nd, sorted, adds);
	if (nadd > 0)
		added = InsertCandidates(args, cand, nd, adds, nadd);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	PG_RETURN_JSONB_P(AddResult(added, cand, nd, ids, texts, n));
}

/* 22023 unless the study has the completion code */
static void
CheckCode(pg_uuid_t *project_id, pg_uuid_t *study_id, const char *code)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	args[2] = CStringGetTextDatum(code);
	if (!PtRowExists(&plan, "SELECT 1 FROM participants.completion_code "
					 "WHERE project_id = $1 AND study_id = $2 AND code = $3",
					 3, types, args, NULL, true))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"completion_code\": the study has no code \"%s\"", code),
				 errhint("get_study(project_id, study_id) lists its completion codes.")));
}

/*
 * Lock the participant as the membership rows of a completion code's
 * actions will (their foreign key), before its study participant row: the
 * lock order of doc/concurrency.md (participant rows before study
 * participant rows, which a deletion or an opt-out of the participant
 * follows too)
 */
static void
LockForCode(pg_uuid_t *project_id, pg_uuid_t *person, const char *participant, bool contact)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	static const char *const sql[2] = {
		"SELECT 1 FROM participants.participant WHERE project_id = $1 AND id = $2 FOR KEY SHARE",
		"SELECT 1 FROM participants.participant WHERE project_id = $1 AND id = $2 FOR NO KEY UPDATE",
	};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	if (!PtRowExists(&plans[contact], sql[contact], 2, types, args, NULL, false))
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant \"%s\" not found", participant)));
}

/* Run a completion code's actions for a participant */
static void
RunCode(pg_uuid_t *project_id, pg_uuid_t *study_id, const char *code, Datum person_id)
{
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	Oid			types[4] = {UUIDOID, UUIDOID, TEXTOID, UUIDOID};
	Datum		args[4];
	Datum		v;
	bool		isnull;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	args[2] = CStringGetTextDatum(code);
	args[3] = person_id;
	SPI_connect();
	/* an action row written by hand may name a dynamic segment */
	if (PtRunValue(&plans[0], "SELECT a.segment_id FROM participants.completion_action a "
				 "JOIN participants.segment s ON s.project_id = a.project_id AND s.id = a.segment_id "
				 "WHERE a.project_id = $1 AND a.study_id = $2 AND a.code = $3 AND s.kind = 'dynamic' "
				 "AND $4 IS NOT NULL LIMIT 1", 4, types, args, NULL, false, &v, &isnull))
	{
		pg_uuid_t	seg_id;
		char	   *seg;

		memcpy(seg_id.data, DatumGetUUIDP(v)->data, UUID_LEN);
		SPI_finish();
		seg = PtUuidText(&seg_id);
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("completion code \"%s\" acts on segment %s, which is dynamic", code, seg),
				 errhint("Completion codes add to and remove from static segments; fix the code with update_study.")));
	}
	(void) PtRunValue(&plans[1], "WITH ins AS (INSERT INTO participants.segment_membership "
				 "(project_id, segment_id, participant_id, add_date) "
				 "SELECT $1, a.segment_id, $4, pg_catalog.now() FROM participants.completion_action a "
				 "WHERE a.project_id = $1 AND a.study_id = $2 AND a.code = $3 AND a.action = 'ADD_TO_SEGMENT' "
				 "ORDER BY a.segment_id "
				 "ON CONFLICT (project_id, segment_id, participant_id) WHERE remove_date IS NULL DO NOTHING "
				 "RETURNING 1) SELECT pg_catalog.count(*) FROM ins", 4, types, args, NULL, false, &v, &isnull);
	(void) PtRunValue(&plans[2], "WITH upd AS (UPDATE participants.segment_membership m "
				 "SET remove_date = GREATEST(pg_catalog.now(), m.add_date) "
				 "FROM participants.completion_action a "
				 "WHERE a.project_id = $1 AND a.study_id = $2 AND a.code = $3 "
				 "AND a.action = 'REMOVE_FROM_SEGMENT' AND m.project_id = $1 "
				 "AND m.segment_id = a.segment_id AND m.participant_id = $4 AND m.remove_date IS NULL "
				 "RETURNING 1) SELECT pg_catalog.count(*) FROM upd", 4, types, args, NULL, false, &v, &isnull);
	SPI_finish();
}

/* A participant is not in the study (or the study does not exist) */
static void
NotInStudy(pg_uuid_t *project_id, pg_uuid_t *study_id, const char *participant)
{
	CheckStudy(project_id, study_id, STUDY_READ);
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("participant \"%s\" is not in study %s", participant, PtUuidText(study_id)),
			 errhint("add_study_participants adds participants to a study.")));
}

/*
 * set_participant_status(project_id, study_id, participant, status,
 * query_by_id, completion_code): the event payload
 */
PT_API_FUNCTION(participants_set_participant_status)
{
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	text	   *participant;
	char	   *volatile code = NULL;
	bool		query_by_id = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	PtRow		row;
	pg_uuid_t  *person = palloc(sizeof(pg_uuid_t));
	int			status;
	volatile bool updated = false;
	Jsonb	   *payload;
	char	   *override_reason = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	PtNotNull(fcinfo, 2, "participant");
	PtNotNull(fcinfo, 3, "status");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	participant = PG_GETARG_TEXT_PP(2);
	status = PtCheckStatus(text_to_cstring(PG_GETARG_TEXT_PP(3)), "status");
	(void) PtGetProject(project_id);
	if (!PG_ARGISNULL(5))
	{
		code = text_to_cstring(PG_GETARG_TEXT_PP(5));
		CheckStudy(project_id, study_id, STUDY_READ);
		CheckCode(project_id, study_id, code);
	}
	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
	{
		override_reason = text_to_cstring(PG_GETARG_TEXT_PP(6));
		if (strspn(override_reason, " \t\r\n") == strlen(override_reason))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"override_reason\": empty"),
					 errhint("Say why the contact may break the contact rule, or leave override_reason out.")));
	}
	PtFetchParticipant(project_id, participant, query_by_id, ACL_SELECT, false, &row);
	memcpy(person->data, row.rec.id.data, UUID_LEN);
	/* a contact's rules lock the participant: before its study row (doc/concurrency.md) */
	if (code || PT_IS_CONTACT(status))
		LockForCode(project_id, person, text_to_cstring(participant), PT_IS_CONTACT(status));

	memset(&pt_status_call, 0, sizeof(pt_status_call));
	pt_status_call.active = true;
	pt_status_call.completion_code = code;
	pt_status_call.override_reason = override_reason;
	pt_status_call.person_locked = PT_IS_CONTACT(status);
	pt_status_call.cxt = CurrentMemoryContext;
	PG_TRY();
	{
		/* the trigger checks the transition and writes the event */
		updated = PtUpdateStatus(project_id, study_id, person, pt_statuses[status]);
	}
	PG_FINALLY();
	{
		pt_status_call.active = false;
	}
	PG_END_TRY();
	payload = pt_status_call.payload;
	memset(&pt_status_call, 0, sizeof(pt_status_call));
	if (!updated)
		NotInStudy(project_id, study_id, text_to_cstring(participant));
	if (payload == NULL)
		elog(ERROR, "the status change wrote no event");
	if (code)
		RunCode(project_id, study_id, code, UUIDPGetDatum(person));
	PG_RETURN_JSONB_P(payload);
}

/* study_participants(project_id, study_id, status, page_number, page_size) */
PT_API_FUNCTION(participants_study_participants)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	int32		page_number = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	int32		page_size = PG_ARGISNULL(4) ? 20 : PG_GETARG_INT32(4);
	Oid			types[6] = {UUIDOID, UUIDOID, TEXTOID, INT4OID, INT4OID, INT8OID};
	Datum		args[6];
	char		nulls[6] = "      ";
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	PtCheckPaging(page_number, page_size, "participants");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	args[2] = (Datum) 0;
	nulls[2] = 'n';
	if (!PG_ARGISNULL(2))
	{
		args[2] = CStringGetTextDatum(pt_statuses[PtCheckStatus(text_to_cstring(PG_GETARG_TEXT_PP(2)), "status")]);
		nulls[2] = ' ';
	}
	(void) PtGetProject(project_id);
	CheckStudy(project_id, study_id, STUDY_READ);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	args[3] = Int32GetDatum(page_number);
	args[4] = Int32GetDatum(page_size);
	args[5] = Int64GetDatum((int64) page_number * page_size);
	res = PtJsonbStatement(&plan,
					   "SELECT pg_catalog.jsonb_build_object('pageNumber', $4, 'pageSize', $5, "
					   "'totalParticipants', (SELECT pg_catalog.count(*) FROM participants.study_participant sp "
					   "WHERE sp.project_id = $1 AND sp.study_id = $2 AND ($3::text IS NULL OR sp.status = $3)), "
					   "'participants', coalesce((SELECT pg_catalog.jsonb_agg(page.j ORDER BY page.n) FROM "
					   "(SELECT pg_catalog.jsonb_build_object('participantId', sp.id, 'personId', sp.participant_id, "
					   "'participantIdentifier', p.participant_identifier, 'status', sp.status, "
					   "'completionCode', sp.completion_code, 'addedDate', sp.created_date, "
					   "'updatedAt', sp.updated_date) AS j, "
					   "pg_catalog.row_number() OVER (ORDER BY sp.created_date, sp.id) AS n "
					   "FROM participants.study_participant sp "
					   "JOIN participants.participant p ON p.project_id = sp.project_id AND p.id = sp.participant_id "
					   "WHERE sp.project_id = $1 AND sp.study_id = $2 AND ($3::text IS NULL OR sp.status = $3) "
					   "ORDER BY sp.created_date, sp.id LIMIT $5 OFFSET $6) page), '[]'))",
					   6, types, args, nulls, true);
	if (res == NULL)
		elog(ERROR, "study participants returned no row");
	PG_RETURN_JSONB_P(res);
}

/* status_history(project_id, study_id, participant, query_by_id) */
PT_API_FUNCTION(participants_status_history)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	bool		lifecycle;
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	bool		query_by_id = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	PtRow		row;
	pg_uuid_t  *person = palloc(sizeof(pg_uuid_t));
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
	Datum		args[3];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	PtNotNull(fcinfo, 2, "participant");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	CheckStudy(project_id, study_id, STUDY_READ);
	PtFetchParticipant(project_id, PG_GETARG_TEXT_PP(2), query_by_id, ACL_SELECT, false, &row);
	memcpy(person->data, row.rec.id.data, UUID_LEN);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	args[2] = UUIDPGetDatum(person);
	/* from 0.6.0 on, the history of pruned events is in status_archive */
	lifecycle = PtHaveLifecycle();
	res = PtJsonbStatement(&plans[lifecycle ? 1 : 0], lifecycle ?
						   "SELECT CASE WHEN EXISTS (SELECT 1 FROM participants.study_participant sp "
						   "WHERE sp.project_id = $1 AND sp.study_id = $2 AND sp.participant_id = $3) "
						   "THEN coalesce((SELECT pg_catalog.jsonb_agg(h.entry ORDER BY h.id) FROM ("
						   "SELECT a.event_id AS id, pg_catalog.jsonb_build_object('status', a.status, "
						   "'priorStatus', a.prior_status, 'updatedAt', a.updated_at) AS entry "
						   "FROM participants.status_archive a WHERE a.project_id = $1 AND a.participant_id = $3 "
						   "AND a.study_id = $2 UNION ALL "
						   "SELECT e.id, pg_catalog.jsonb_build_object("
						   "'status', e.payload -> 'status', 'priorStatus', e.payload -> 'priorStatus', "
						   "'updatedAt', e.payload -> 'updatedAt') "
						   "FROM participants.event e WHERE e.project_id = $1 AND e.person_id = $3 "
						   "AND e.study_id = $2 AND e.event_type = 'participant.status_changed') h), '[]') END" :
						   "SELECT CASE WHEN EXISTS (SELECT 1 FROM participants.study_participant sp "
						   "WHERE sp.project_id = $1 AND sp.study_id = $2 AND sp.participant_id = $3) "
						   "THEN coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
						   "'status', e.payload -> 'status', 'priorStatus', e.payload -> 'priorStatus', "
						   "'updatedAt', e.payload -> 'updatedAt') ORDER BY e.id) "
						   "FROM participants.event e WHERE e.project_id = $1 AND e.person_id = $3 "
						   "AND e.study_id = $2 AND e.event_type = 'participant.status_changed'), '[]') END",
						   3, types, args, NULL, true);
	if (res == NULL)
		NotInStudy(project_id, study_id, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	PG_RETURN_JSONB_P(res);
}

/* eligible_participants(project_id, study_id, page_number, page_size) */
PT_API_FUNCTION(participants_eligible_participants)
{
	static SPIPlanPtr page_plans[2] = {NULL, NULL};
	static SPIPlanPtr count_plans[2] = {NULL, NULL};
	SPIPlanPtr	page_plan;
	SPIPlanPtr	count_plan;
	bool		g;
	pg_uuid_t  *project_id;
	pg_uuid_t  *study_id;
	int32		page_number = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	int32		page_size = PG_ARGISNULL(3) ? 20 : PG_GETARG_INT32(3);
	bool		contactable_only = PG_NARGS() <= 4 || PG_ARGISNULL(4) || PG_GETARG_BOOL(4);
	Oid			types[6] = {UUIDOID, UUIDOID, INT4OID, INT8OID, BOOLOID, TIMESTAMPTZOID};
	Datum		args[6];
	int64		total;
	uint64		i,
				nrows;
	bool		isnull;
	Jsonb	  **rows;
	MemoryContext cxt = CurrentMemoryContext;

#define ELIGIBLE_WHERE \
	" FROM participants.participant p WHERE p.project_id = $1 AND p.withdraw_date IS NULL " \
	"AND NOT p.opted_out AND " PT_STUDY_LISTS_SQL("$1", "$2")
#define ELIGIBLE_GOVERNANCE \
	" AND " PT_STUDY_CONSENT_SQL("$1", "$2") " AND (NOT $5 OR " PT_CONTACTABLE_SQL("$1", "$2", "$6") ")"

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "study_id");
	PtCheckPaging(page_number, page_size, "participants");
	project_id = PG_GETARG_UUID_P(0);
	study_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	CheckStudy(project_id, study_id, STUDY_READ);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(study_id);
	args[2] = Int32GetDatum(page_size);
	args[3] = Int64GetDatum((int64) page_number * page_size);
	args[4] = BoolGetDatum(contactable_only);
	/* now, as a value (Citus plans no volatile function on the workers) */
	args[5] = TimestampTzGetDatum(GetCurrentTimestamp());
	SPI_connect();
	g = PtHaveGovernance();
	if (page_plans[g] == NULL)
	{
		const char *where = g ? ELIGIBLE_WHERE ELIGIBLE_GOVERNANCE : ELIGIBLE_WHERE " AND $5 IS NOT NULL AND $6 IS NOT NULL";

		PtPreparePlan(&page_plans[g], psprintf("SELECT " PT_RECORD_COLUMNS "%s"
											   " ORDER BY p.inserted_date, p.id LIMIT $3 OFFSET $4", where), 6, types);
		PtPreparePlan(&count_plans[g], psprintf("SELECT pg_catalog.count(*)%s", where), 6, types);
	}
	page_plan = page_plans[g];
	count_plan = count_plans[g];
	if (PtExecutePlan(page_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "eligible participants query failed");
	/* the page outlives SPI_finish: build it in the caller's memory */
	MemoryContextSwitchTo(cxt);
	nrows = SPI_processed;
	rows = palloc(sizeof(Jsonb *) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
	{
		PtRecord	rec;

		PtRecordFromTuple(&rec, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		rows[i] = PtRecordToJsonb(&rec, false, 0);
	}
	if (nrows > 0 && nrows < (uint64) page_size)
		total = (int64) page_number * page_size + nrows;	/* the last page */
	else
	{
		if (PtExecutePlan(count_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "eligible participants count failed");
		total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	MemoryContextSwitchTo(cxt);
	SPI_finish();
	PG_RETURN_JSONB_P(PtParticipantPage(page_number, page_size, total, rows, (int) nrows));
}

/* Add one event to the array events_since builds */
static void
PushEvent(int64 id, Jsonb *payload, TimestampTz created, void *arg)
{
	JsonbParseState **state = arg;
	JsonbValue	v;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(state, "eventID", id);
	PtPushKey(state, "payload");
	v.type = jbvBinary;
	v.val.binary.data = &payload->root;
	v.val.binary.len = VARSIZE(payload) - VARHDRSZ;
	pushJsonbValue(state, WJB_VALUE, &v);
	PtPushString(state, "createdDate", JsonEncodeDateTime(NULL, TimestampTzGetDatum(created), TIMESTAMPTZOID, NULL));
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * events_since(project_id, after_id, max_events): the project's events
 * after after_id, oldest first, up to the first one still in flight (see
 * PtReadEvents: it neither waits for writers nor makes them wait)
 */
PT_API_FUNCTION(participants_events_since)
{
	pg_uuid_t  *project_id;
	int64		after_id = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	int32		max_events = PG_ARGISNULL(2) ? 100 : PG_GETARG_INT32(2);
	JsonbParseState *state = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	if (after_id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"after_id\": " INT64_FORMAT, after_id),
				 errhint("Pass 0, or the last eventID already read.")));
	if (max_events < 1 || max_events > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"max_events\": %d", max_events),
				 errhint("A call returns 1 to 1000 events.")));
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	(void) PtReadEvents(project_id, after_id, max_events, PushEvent, &state);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, NULL)));
}
