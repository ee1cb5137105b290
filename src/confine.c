/*
 * confine.c
 *		Per-project confinement of callers: which projects a role may use
 *		(participants.project_access, and for PostgREST the projects a JWT
 *		claim names), and the entry of every API function, which checks the
 *		caller's access and then does its work as the extension's owner.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "tcop/utility.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "pt.h"

/* The search_path every function of the extension runs with */
#define PT_SEARCH_PATH "pg_catalog, pg_temp"

/* The JWT claim (in request.jwt.claims) listing a caller's projects; "" = none */
char	   *pt_jwt_project_claim = NULL;

/* One row of participants.project_access, with the role resolved */
typedef struct AccessGrant
{
	pg_uuid_t	project;
	Oid			role;
} AccessGrant;

static AccessGrant *grants = NULL;	/* in TopMemoryContext */
static int	ngrants = 0;
static bool grants_valid = false;
static uint64 resets = 0;		/* invalidations seen, to spot one during a load */
static bool tables_valid = false;
static Oid	owner_relid = InvalidOid;	/* participants.project */
static Oid	owner_role = InvalidOid;	/* its owner */
static Oid	access_relid = InvalidOid;	/* participants.project_access, if any */
static bool callbacks_registered = false;

/* Forget the grants and the tables (project_access or a role changed) */
void
PtResetAccessCache(void)
{
	grants_valid = false;
	tables_valid = false;
	resets++;
}

static void
AccessRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == access_relid || relid == owner_relid)
		PtResetAccessCache();
}

static void
AccessSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	PtResetAccessCache();
}

static void
RegisterCallbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(AccessRelcacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, AccessSyscacheCallback, (Datum) 0);
	callbacks_registered = true;
}

/*
 * Look up, once until invalidated, the owner of the extension's tables and
 * whether project_access exists. Creating or dropping project_access (its
 * foreign key to project) invalidates project, and so this lookup.
 */
static void
LookUpTables(void)
{
	uint64		resets_before = resets;
	Oid			nsp;
	HeapTuple	tup;

	RegisterCallbacks();
	if (tables_valid)
		return;
	nsp = get_namespace_oid("participants", false);
	owner_relid = get_relname_relid("project", nsp);
	if (!OidIsValid(owner_relid))
		elog(ERROR, "table participants.project does not exist");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(owner_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", owner_relid);
	owner_role = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	access_relid = get_relname_relid("project_access", nsp);
	/* an invalidation that arrived meanwhile may predate what was read */
	tables_valid = (resets == resets_before);
}

/*
 * The owner of the extension's tables (whoever ran CREATE EXTENSION, or
 * restored it): the role API functions work as, and sortable fields'
 * indexes are built as.
 */
Oid
PtOwner(void)
{
	LookUpTables();
	return owner_role;
}

/* Is search_path the one the extension's functions pin? */
static bool
SearchPathPinned(void)
{
	return namespace_search_path != NULL && strcmp(namespace_search_path, PT_SEARCH_PATH) == 0;
}

/*
 * Load participants.project_access (as the owner: callers need no privilege
 * on it). Roles that no longer exist are left out; they grant nothing.
 */
static void
LoadGrants(void)
{
	uint64		resets_before = resets;
	AccessGrant *loaded;
	Oid			save_userid;
	int			save_sec;
	int			n = 0;
	uint64		i;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (SPI_execute("SELECT project_id, role_name FROM participants.project_access", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read participants.project_access");
	loaded = MemoryContextAlloc(TopMemoryContext, sizeof(AccessGrant) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull1,
					isnull2;
		Datum		p = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull1);
		Datum		r = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull2);
		Oid			role;

		if (isnull1 || isnull2)
			continue;
		role = get_role_oid(NameStr(*DatumGetName(r)), true);
		if (!OidIsValid(role))
			continue;
		loaded[n].project = *DatumGetUUIDP(p);
		loaded[n].role = role;
		n++;
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	if (grants)
		pfree(grants);
	grants = loaded;
	ngrants = n;
	/* an invalidation that arrived while loading may predate what was read */
	grants_valid = (resets == resets_before);
}

/*
 * Superusers, roles that bypass row-level security and the owner are not
 * confined; nor is anyone while the extension's tables are those of 0.1.0
 * (no project_access: the 0.2.0 library runs the 0.1.0 functions until
 * ALTER EXTENSION ... UPDATE, and 0.1.0 confined no one).
 */
static bool
Unconfined(Oid role)
{
	if (superuser_arg(role) || has_bypassrls_privilege(role))
		return true;
	LookUpTables();
	return has_privs_of_role(role, owner_role) || !OidIsValid(access_relid);
}

/*
 * The project ids of the JWT claim, when participants.jwt_project_claim
 * names one and PostgREST (or a test) has set request.jwt.claims; ids that
 * are not in canonical form are ignored.
 */
static List *
ClaimProjects(void)
{
	const char *claims;
	Jsonb	   *jb;
	JsonbValue	key;
	JsonbValue *ids;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *result = NIL;

	if (pt_jwt_project_claim == NULL || pt_jwt_project_claim[0] == '\0')
		return NIL;
	claims = GetConfigOption("request.jwt.claims", true, false);
	if (claims == NULL || claims[0] == '\0')
		return NIL;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
	if (!JB_ROOT_IS_OBJECT(jb))
		return NIL;
	key.type = jbvString;
	key.val.string.val = pt_jwt_project_claim;
	key.val.string.len = strlen(pt_jwt_project_claim);
	ids = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
	if (ids == NULL || ids->type != jbvBinary || !JsonContainerIsArray(ids->val.binary.data))
		return NIL;
	it = JsonbIteratorInit(ids->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char		buf[37];
		int			k;
		bool		ok = true;

		if (tok != WJB_ELEM || v.type != jbvString || v.val.string.len != 36)
			continue;
		memcpy(buf, v.val.string.val, 36);
		buf[36] = '\0';
		for (k = 0; k < 36 && ok; k++)
			ok = (k == 8 || k == 13 || k == 18 || k == 23) ? buf[k] == '-' : isxdigit((unsigned char) buf[k]);
		if (ok)
			result = lappend(result, DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(buf))));
	}
	return result;
}

static bool
UuidEqual(const pg_uuid_t *a, const pg_uuid_t *b)
{
	return memcmp(a->data, b->data, UUID_LEN) == 0;
}

/* May role use the project? */
static bool
MayUse(Oid role, const pg_uuid_t *project)
{
	ListCell   *lc;
	int			i;

	if (Unconfined(role))
		return true;
	foreach(lc, ClaimProjects())
		if (UuidEqual(lfirst(lc), project))
			return true;
	/* a grant or revocation committed by now applies, even mid-transaction */
	AcceptInvalidationMessages();
	if (!grants_valid)
		LoadGrants();
	for (i = 0; i < ngrants; i++)
		if (UuidEqual(&grants[i].project, project) && has_privs_of_role(role, grants[i].role))
			return true;
	return false;
}

/* 42501 unless role may use the project */
void
PtCheckProjectAccess(Oid role, pg_uuid_t *project)
{
	if (MayUse(role, project))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for project %s", PtUuidText(project)),
			 errdetail("Role \"%s\" may use only the projects participants.project_access grants to it%s.",
					   GetUserNameFromId(role, false),
					   (pt_jwt_project_claim && pt_jwt_project_claim[0])
					   ? " or its token's project claim lists" : ""),
			 errhint("Use a role or a token for this project.")));
}

/*
 * The entry of every API function (see PT_API_FUNCTION): the caller must
 * be allowed the project of argument 0 (or, for project_arg false, be
 * unconfined); the work then runs as the owner of the extension's tables,
 * so callers need EXECUTE on the function and no privilege on the tables,
 * and PostgREST exposes the functions without exposing a table. The
 * functions pin search_path (SET search_path in their declaration), so no
 * object of the caller's can be reached from the owner's context; one whose
 * declaration does not is run with the caller's rights. An error
 * restores the caller's identity through transaction abort, as for
 * SECURITY DEFINER functions.
 */
Datum
PtApiCall(FunctionCallInfo fcinfo, PGFunction work, bool project_arg)
{
	Oid			save_userid;
	int			save_sec;
	Datum		result;

	/*
	 * The work writes through the executor's single-row paths, which do not
	 * check for a read-only transaction as SQL statements do: check here
	 * (25006, which PostgREST answers with 405 for a writer called by GET).
	 */
	if (XactReadOnly && func_volatile(fcinfo->flinfo->fn_oid) == PROVOLATILE_VOLATILE)
		PreventCommandIfReadOnly(psprintf("%s()", get_func_name(fcinfo->flinfo->fn_oid)));

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (!project_arg)
	{
		if (!Unconfined(save_userid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to create a project"),
					 errdetail("Role \"%s\" is confined to the projects granted to it.",
							   GetUserNameFromId(save_userid, false)),
					 errhint("Create projects as a role that bypasses row-level security, then grant them in participants.project_access.")));
	}
	else if (!PG_ARGISNULL(0))
		PtCheckProjectAccess(save_userid, PG_GETARG_UUID_P(0));

	/*
	 * Only a function whose declaration pins search_path works as the owner.
	 * One that does not (0.1.0's, until ALTER EXTENSION ... UPDATE) works
	 * with the caller's rights, as it did in 0.1.0.
	 */
	if (!SearchPathPinned())
		return work(fcinfo);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	result = work(fcinfo);
	SetUserIdAndSecContext(save_userid, save_sec);
	return result;
}

/*
 * The entry of every trigger function (see PT_TRIGGER_FUNCTION): its SQL runs
 * with search_path pinned, so a function or operator of the same name in a
 * schema on the search path of whoever fired the trigger is never called.
 * Inside an API function the path is pinned already, and nothing is done.
 */
Datum
PtTriggerCall(FunctionCallInfo fcinfo, PGFunction work)
{
	int			nest;
	Datum		result;

	if (SearchPathPinned())
		return work(fcinfo);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", PT_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	result = work(fcinfo);
	AtEOXact_GUC(true, nest);
	return result;
}

PG_FUNCTION_INFO_V1(participants_allowed_projects);
/*
 * allowed_projects(): the projects the current role may use, for the
 * row-level security policies; null for a role that is not confined.
 */
Datum
participants_allowed_projects(PG_FUNCTION_ARGS)
{
	Oid			role = GetUserId();
	List	   *ids;
	Datum	   *elems;
	int			n = 0;
	int			i;
	ListCell   *lc;

	if (Unconfined(role))
		PG_RETURN_NULL();
	ids = ClaimProjects();
	AcceptInvalidationMessages();
	if (!grants_valid)
		LoadGrants();
	elems = palloc(sizeof(Datum) * (list_length(ids) + ngrants + 1));
	foreach(lc, ids)
		elems[n++] = UUIDPGetDatum(lfirst(lc));
	for (i = 0; i < ngrants; i++)
		if (has_privs_of_role(role, grants[i].role))
		{
			pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

			*u = grants[i].project;
			elems[n++] = UUIDPGetDatum(u);
		}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}
