/*
 * access/confine.c
 *		Per-project confinement of callers: which projects a role may use
 *		(participants.project_access, and for PostgREST the projects a JWT
 *		claim names), and the entry of every API function, which checks the
 *		caller's access and then does its work as the extension's owner.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
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
#include "utils/regproc.h"
#include "utils/datum.h"
#include "utils/uuid.h"
#include "catalog/pg_type.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/fmgroids.h"
#include "common/pg_prng.h"
#include "utils/resowner.h"

#include "access/access.h"

/* participants.deadlock_retries: times a writing call starts over after being a deadlock's victim */
int			pt_deadlock_retries = 4;

/* The search_path every function of the extension runs with */
#define PT_SEARCH_PATH "pg_catalog, pg_temp"

/* The JWT claim (in request.jwt.claims) listing a caller's projects; "" = none */
char	   *pt_jwt_project_claim = NULL;

/* The role that called the API function now running (InvalidOid: none) */
static Oid	api_caller = InvalidOid;

/*
 * Catalog facts looked up once until invalidated: the extension's tables'
 * owner and project_access with its primary key. These are catalog data,
 * which a relcache invalidation of project or project_access refreshes;
 * the grants themselves are never cached (see MayUse).
 */
static bool tables_valid = false;
static Oid	owner_relid = InvalidOid;	/* participants.project */
static Oid	owner_role = InvalidOid;	/* its owner */
static Oid	access_relid = InvalidOid;	/* participants.project_access, if any */
static Oid	access_index = InvalidOid;	/* its primary key */

static void
TablesReset(Oid relid)
{
	if (relid == InvalidOid || relid == access_relid || relid == owner_relid)
		tables_valid = false;
}

/*
 * Look up, once until invalidated, the owner of the extension's tables and
 * whether project_access exists. Creating or dropping project_access (its
 * foreign key to project) invalidates project, and so this lookup.
 */
static void
LookUpTables(void)
{
	Oid			nsp;
	HeapTuple	tup;

	if (tables_valid)
		return;
	PtCacheRegister(TablesReset);
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
	access_index = get_relname_relid("project_access_pkey", nsp);
	tables_valid = true;
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
 * The role on whose behalf the code now runs: the caller of the API
 * function in progress (whose work runs as the owner), else the current
 * user (a raw statement and the triggers it fires).
 */
Oid
PtCaller(void)
{
	return OidIsValid(api_caller) ? api_caller : GetUserId();
}

/*
 * Call fn(role_oid, arg) for each role that project_access grants project
 * (every project when project is NULL), read as it is now: with a snapshot
 * taken after the invalidations committed so far were accepted, whatever
 * the transaction's isolation level and however old its own snapshot. So a
 * grant or revocation committed before this call applies to it, in every
 * session, and one never applies before it commits (this transaction's own
 * are seen). Stops and returns true when fn does; roles that no longer
 * exist grant nothing.
 */
static bool
ForEachGrant(const pg_uuid_t *project, bool (*fn) (Oid role, const pg_uuid_t *project, void *arg),
			 void *arg)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	Snapshot	snap;
	HeapTuple	tup;
	bool		done = false;

	/* the callers accepted the invalidations committed so far */
	LookUpTables();
	/* a reference table on a cluster: its shard here holds every grant */
	rel = table_open(PtLocalTable(access_relid, NULL), AccessShareLock);
	snap = RegisterSnapshot(GetLatestSnapshot());
	if (project != NULL)
		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(project));
	scan = systable_beginscan(rel,
							  OidIsValid(access_index) ? PtLocalIndex(access_index, access_relid, RelationGetRelid(rel)) : InvalidOid,
							  project != NULL && OidIsValid(access_index),
							  snap, project != NULL ? 1 : 0, &key);
	while (!done && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull1,
					isnull2;
		Datum		p = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull1);
		Datum		r = heap_getattr(tup, 2, RelationGetDescr(rel), &isnull2);
		Oid			role;

		if (isnull1 || isnull2)
			continue;
		role = get_role_oid(NameStr(*DatumGetName(r)), true);
		if (OidIsValid(role))
			done = fn(role, DatumGetUUIDP(p), arg);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	return done;
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

static bool
GrantMatches(Oid grantee, const pg_uuid_t *project, void *arg)
{
	return has_privs_of_role(*(Oid *) arg, grantee);
}

/*
 * May role use the project? Role attributes and memberships, and the
 * grants, are read as committed when the call is made (see ForEachGrant).
 */
static bool
MayUse(Oid role, const pg_uuid_t *project)
{
	ListCell   *lc;

	AcceptInvalidationMessages();
	if (Unconfined(role))
		return true;
	foreach(lc, ClaimProjects())
		if (UuidEqual(lfirst(lc), project))
			return true;
	return ForEachGrant(project, GrantMatches, &role);
}

/* Is the role exempt from confinement? */
bool
PtUnconfined(Oid role)
{
	AcceptInvalidationMessages();
	return Unconfined(role);
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
 * Is this session restoring a dump? pg_dump's output (pg_restore's, and a
 * plain dump replayed with psql -f) sets row_security = off; a role that
 * row-level security applies to cannot touch the extension's tables at all
 * with it off, so only an unconfined role's session can be in a restore,
 * and the caller of an API function is asked, not the owner it works as.
 * Only then do rows skip the rules and their events (doc/reliability.md, "Dump and restore").
 */
bool
PtInRestore(void)
{
	const char *rs = GetConfigOption("row_security", true, false);

	return rs != NULL && strcmp(rs, "off") == 0 && PtUnconfined(PtCaller());
}

/* Run an API function's work as the owner (see PtApiCall) */
static Datum
RunWork(FunctionCallInfo fcinfo, PGFunction work, Oid save_userid, int save_sec)
{
	Datum		result;

	if (!SearchPathPinned())
		return work(fcinfo);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	result = work(fcinfo);
	SetUserIdAndSecContext(save_userid, save_sec);
	return result;
}

/* ------------------------------------------------------------------------
 * On a Citus cluster
 * ------------------------------------------------------------------------
 */

/* Set while a call is forwarded: the node it reaches must hold the project */
static bool forwarding = false;

/*
 * The extension's settings that a forwarded call takes along: the session's
 * values on the coordinator hold on the node the call runs on (a SET in the
 * coordinator's session reaches no other node by itself)
 */
static const char *const forwarded_settings[] = {
	"participants.bulk_batch_size", "participants.max_sortable_fields",
	"participants.max_custom_fields", "participants.deadlock_retries",
	/* PostgREST's claims: the audit log records their sub where the call runs */
	"request.jwt.claims", NULL
};

/*
 * On the node a call was forwarded to: the role that called it on the
 * coordinator, which checked its access there (see ForwardCall)
 */
static Oid	forwarded_caller = InvalidOid;
static Oid	forwarded_fn = InvalidOid;

/*
 * Run the call of fcinfo's function on the node that holds its project, and
 * return its result. The coordinator knows the session: the grants it sees
 * (those of its own transaction too) and its token's claims, so it checks
 * the caller's access (PtApiCall) and the call then goes, as
 * participants.forwarded_call(project, function, caller, arguments), to the
 * node that holds the project's shards: forwarded_call is a distributed
 * function (participants.distribute()), which Citus delegates there inside
 * this transaction. It is sent as the owner of the extension (only the owner
 * may call forwarded_call), and on that node the function runs in the
 * caller's name, as it would here.
 */
static Datum
ForwardCall(FunctionCallInfo fcinfo, Oid caller, Oid save_userid, int save_sec)
{
	Oid			fn = fcinfo->flinfo->fn_oid;
	Oid			rettype;
	Oid		   *argtypes;
	int			nargs;
	int			i;
	StringInfoData sql;
	char	   *result;
	char	   *volatile text = NULL;
	Oid			input;
	Oid			ioparam;
	bool		save = forwarding;
	MemoryContext cxt = CurrentMemoryContext;

	if (forwarding)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("could not run %s() on the node that holds project %s",
						get_func_name(fn), PtUuidText(PG_GETARG_UUID_P(0))),
				 errhint("Run participants.distribute() on the coordinator, so that the function is a distributed function.")));
	rettype = get_func_signature(fn, &argtypes, &nargs);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT r FROM participants.forwarded_call(%s::pg_catalog.uuid, %s::pg_catalog.regprocedure, %s::pg_catalog.name, ARRAY[",
					 quote_literal_cstr(PtUuidText(PG_GETARG_UUID_P(0))),
					 quote_literal_cstr(format_procedure_qualified(fn)),
					 quote_literal_cstr(GetUserNameFromId(caller, false)));
	for (i = 0; i < nargs; i++)
	{
		Oid			out;
		bool		varlena;

		if (i > 0)
			appendStringInfoString(&sql, ", ");
		if (PG_ARGISNULL(i))
			appendStringInfoString(&sql, "NULL");
		else
		{
			getTypeOutputInfo(argtypes[i], &out, &varlena);
			appendStringInfoString(&sql, quote_literal_cstr(OidOutputFunctionCall(out, fcinfo->args[i].value)));
		}
	}
	appendStringInfoString(&sql, "]::pg_catalog.text[], ARRAY[");
	for (i = 0; forwarded_settings[i] != NULL; i++)
	{
		const char *value = GetConfigOption(forwarded_settings[i], true, false);

		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
						 quote_literal_cstr(value != NULL ? value : ""));
	}
	appendStringInfoString(&sql, "]::pg_catalog.text[]) AS r");
	forwarding = true;
	PG_TRY();
	{
		SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
		SPI_connect();
		if (SPI_execute(sql.data, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "forwarded call of %s() returned " UINT64_FORMAT " rows",
				 get_func_name(fn), SPI_processed);
		result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (result != NULL)		/* (null: the function returned null) */
			text = MemoryContextStrdup(cxt, result);
		SPI_finish();
	}
	PG_FINALLY();
	{
		forwarding = save;
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	if (text == NULL)
		PG_RETURN_NULL();
	getTypeInputInfo(rettype, &input, &ioparam);
	return OidInputFunctionCall(input, text, ioparam, -1);
}

PG_FUNCTION_INFO_V1(participants_forwarded_call);
/*
 * forwarded_call(project_id uuid, fn regprocedure, caller name, args text[],
 * settings text[]) -> text: on the node that holds the project, run an API
 * function that the coordinator forwarded (ForwardCall), in the name of
 * caller, whose access the coordinator checked, with the coordinator's
 * values of the extension's settings; the result in its text form. Only the
 * owner of the extension may call it (EXECUTE is not granted to anyone, and
 * it checks).
 */
Datum
participants_forwarded_call(PG_FUNCTION_ARGS)
{
	Oid			fn;
	Oid			caller;
	ArrayType  *args;
	Datum	   *values;
	bool	   *nulls;
	int			n;
	Oid		   *argtypes;
	int			nargs;
	Oid			rettype;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	Datum		result;
	int			i;
	Oid			save_fn = forwarded_fn;
	Oid			save_caller = forwarded_caller;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		elog(ERROR, "forwarded_call: null argument");
	if (GetUserId() != PtOwner() && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function forwarded_call"),
				 errdetail("Only the coordinator forwards calls, as the owner of the extension.")));
	fn = PG_GETARG_OID(1);
	caller = get_role_oid(NameStr(*PG_GETARG_NAME(2)), false);
	if (get_func_namespace(fn) != get_namespace_oid("participants", false))
		elog(ERROR, "forwarded_call: %s is not a function of the extension", format_procedure(fn));
	args = PG_GETARG_ARRAYTYPE_P(3);
	deconstruct_array(args, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &n);
	rettype = get_func_signature(fn, &argtypes, &nargs);
	if (n != nargs)
		elog(ERROR, "forwarded_call: %s takes %d arguments, not %d", format_procedure(fn), nargs, n);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		Oid			input;
		Oid			ioparam;

		call->args[i].isnull = nulls[i];
		call->args[i].value = (Datum) 0;
		if (!nulls[i])
		{
			getTypeInputInfo(argtypes[i], &input, &ioparam);
			call->args[i].value = OidInputFunctionCall(input, TextDatumGetCString(values[i]), ioparam, -1);
		}
	}
	if (call->args[0].isnull || !datumIsEqual(call->args[0].value, PG_GETARG_DATUM(0), false, UUID_LEN))
		elog(ERROR, "forwarded_call: the call's project is not the one it was sent for");
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(4), TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &n);
	if (n != lengthof(forwarded_settings) - 1)
		elog(ERROR, "forwarded_call: %d settings, not %d", n, (int) lengthof(forwarded_settings) - 1);
	nest = NewGUCNestLevel();
	for (i = 0; i < n; i++)
		if (!nulls[i] && VARSIZE_ANY_EXHDR(DatumGetPointer(values[i])) > 0)
			(void) set_config_option(forwarded_settings[i], TextDatumGetCString(values[i]),
									 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/*
	 * The function runs as the owner (the connection's user) in the name of
	 * caller: PtCaller() answers caller, so what asks who calls (a restore
	 * needs an unconfined caller, sortable fields too) answers as on the
	 * coordinator
	 */
	forwarded_fn = fn;
	forwarded_caller = caller;
	PG_TRY();
	{
		result = FunctionCallInvoke(call);
	}
	PG_FINALLY();
	{
		forwarded_fn = save_fn;
		forwarded_caller = save_caller;
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nest);
	if (call->isnull)
		PG_RETURN_NULL();
	{
		Oid			out;
		bool		varlena;

		getTypeOutputInfo(rettype, &out, &varlena);
		PG_RETURN_TEXT_P(cstring_to_text(OidOutputFunctionCall(out, result)));
	}
}

/*
 * Run work with the settings a cluster needs: custom plans for the
 * statements it runs (a generic plan of "project_id = $1" is one Citus
 * cannot route)
 */
static Datum
RunDistributed(FunctionCallInfo fcinfo, PGFunction work, Oid save_userid, int save_sec,
			   Datum (*run) (FunctionCallInfo, PGFunction, Oid, int))
{
	int			nest = NewGUCNestLevel();
	Datum		result;

	(void) set_config_option("plan_cache_mode", "force_custom_plan", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	result = run(fcinfo, work, save_userid, save_sec);
	AtEOXact_GUC(true, nest);
	return result;
}

/*
 * Run a writing function's work in a subtransaction, and run it again when
 * PostgreSQL chose it as the victim of a deadlock: the subtransaction's
 * rollback undoes all of that attempt (rows, events, notifications) and
 * releases its locks, so the other transaction goes on and this one starts
 * over, after a short random pause, up to participants.deadlock_retries
 * times. The functions take their locks in one order
 * (doc/concurrency.md), so this is a safety net for what that order cannot
 * cover (two unique-index entries swapped by two calls, a raw statement in
 * the mix), never a replacement for it. Any other error rolls back and
 * propagates as before. Locks the transaction held before the call stay
 * held: a deadlock over those recurs and reaches the caller.
 */
typedef struct WorkCall
{
	FunctionCallInfo fcinfo;
	PGFunction	work;
	Oid			save_userid;
	int			save_sec;
	Datum		result;
} WorkCall;

static void
RunWorkCall(void *arg)
{
	WorkCall   *w = arg;

	w->result = RunWork(w->fcinfo, w->work, w->save_userid, w->save_sec);
}

static Datum
RetryOnDeadlock(FunctionCallInfo fcinfo, PGFunction work, Oid save_userid, int save_sec)
{
	WorkCall	w = {fcinfo, work, save_userid, save_sec, (Datum) 0};
	int			retries = pt_deadlock_retries;
	int			attempt;

	for (attempt = 1;; attempt++)
	{
		ErrorData  *edata = PtSubtransaction(RunWorkCall, &w);

		if (edata == NULL)
			return w.result;
		if (edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED || attempt > retries)
			ReThrowError(edata);
		/* a DBA sees deadlocks in the log as PostgreSQL reports them; so too these */
		ereport(LOG,
				(errmsg("participants: %s() was a deadlock's victim; attempt %d of %d, retrying",
						get_func_name(fcinfo->flinfo->fn_oid), attempt, retries + 1),
				 errdetail_internal("%s", edata->detail ? edata->detail : edata->message)));
		FreeErrorData(edata);
		CHECK_FOR_INTERRUPTS();
		pg_usleep((long) (1000 + pg_prng_uint64_range(&pg_global_prng_state, 0, 4000 * attempt)));
	}
}

/*
 * The entry of every API function (see PT_API_FUNCTION): the caller must
 * be allowed the project of argument 0 (or, for PT_NO_PROJECT, be
 * unconfined; a PT_PROJECT call for a project another node holds is
 * forwarded there, a PT_PROJECT_HERE call runs here); the work then runs as the owner of the extension's tables,
 * so callers need EXECUTE on the function and no privilege on the tables,
 * and PostgREST exposes the functions without exposing a table. The
 * functions pin search_path (SET search_path in their declaration), so no
 * object of the caller's can be reached from the owner's context; one whose
 * declaration does not is run with the caller's rights. An error
 * restores the caller's identity through transaction abort, as for
 * SECURITY DEFINER functions.
 */
Datum
PtApiCall(FunctionCallInfo fcinfo, PGFunction work, int project_arg)
{
	Oid			save_userid;
	int			save_sec;
	Oid			save_caller = api_caller;
	Oid			caller = InvalidOid;
	volatile Datum result = (Datum) 0;

	/*
	 * The work writes through the executor's single-row paths, which do not
	 * check for a read-only transaction as SQL statements do: check here
	 * (25006, which PostgREST answers with 405 for a writer called by GET).
	 */
	if (XactReadOnly && func_volatile(fcinfo->flinfo->fn_oid) == PROVOLATILE_VOLATILE)
		PreventCommandIfReadOnly(psprintf("%s()", get_func_name(fcinfo->flinfo->fn_oid)));

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (OidIsValid(forwarded_caller) && forwarded_fn == fcinfo->flinfo->fn_oid)
	{
		/*
		 * A call the coordinator forwarded here (forwarded_call): it checked
		 * the caller's access; this runs in the caller's name. Calls the work
		 * makes in turn are checked as any other.
		 */
		caller = forwarded_caller;
		forwarded_caller = InvalidOid;
		forwarded_fn = InvalidOid;
	}
	else if (project_arg == PT_PROJECT && !PG_ARGISNULL(0) && !PtProjectIsLocal(PG_GETARG_UUID_P(0)))
	{
		/* on a cluster, a call for a project another node holds runs there */
		PtCheckProjectAccess(save_userid, PG_GETARG_UUID_P(0));
		return ForwardCall(fcinfo, save_userid, save_userid, save_sec);
	}
	else if (project_arg == PT_NO_PROJECT)
	{
		if (!PtUnconfined(save_userid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for function %s", get_func_name(fcinfo->flinfo->fn_oid)),
					 errdetail("Role \"%s\" is confined to the projects granted to it; only a role that is not may call this function.",
							   GetUserNameFromId(save_userid, false)),
					 errhint("Call it as a superuser, a role with BYPASSRLS or the owner of the extension's tables.")));
	}
	else if (!PG_ARGISNULL(0))
		PtCheckProjectAccess(save_userid, PG_GETARG_UUID_P(0));
	if (!OidIsValid(caller))
		caller = save_userid;

	/*
	 * Only a function whose declaration pins search_path works as the owner.
	 * One that does not (0.1.0's, until ALTER EXTENSION ... UPDATE) works
	 * with the caller's rights, as it did in 0.1.0.
	 */
	api_caller = caller;
	PG_TRY();
	{
		Datum		(*run) (FunctionCallInfo, PGFunction, Oid, int) = RunWork;

		if (pt_deadlock_retries > 0 &&
			func_volatile(fcinfo->flinfo->fn_oid) == PROVOLATILE_VOLATILE)
			run = RetryOnDeadlock;
		if (PtDistributed())
			result = RunDistributed(fcinfo, work, save_userid, save_sec, run);
		else
			result = run(fcinfo, work, save_userid, save_sec);
	}
	PG_FINALLY();
	{
		api_caller = save_caller;
	}
	PG_END_TRY();
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
	/* on a cluster, custom plans that Citus can route (see RunDistributed) */
	if (PtDistributed())
		(void) set_config_option("plan_cache_mode", "force_custom_plan", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	result = work(fcinfo);
	AtEOXact_GUC(true, nest);
	return result;
}

/* The projects a role may use, as collected by allowed_projects() */
typedef struct ProjectList
{
	Oid			role;
	int			n;
	int			size;
	Datum	   *elems;
} ProjectList;

static bool
CollectGranted(Oid grantee, const pg_uuid_t *project, void *arg)
{
	ProjectList *l = arg;
	pg_uuid_t  *u;

	if (!has_privs_of_role(l->role, grantee))
		return false;
	if (l->n == l->size)
	{
		l->size *= 2;
		l->elems = repalloc(l->elems, sizeof(Datum) * l->size);
	}
	u = palloc(sizeof(pg_uuid_t));
	*u = *project;
	l->elems[l->n++] = UUIDPGetDatum(u);
	return false;
}

PG_FUNCTION_INFO_V1(participants_allowed_projects);
/*
 * allowed_projects(): the projects the current role may use, for the
 * row-level security policies; null for a role that is not confined.
 *
 * The answer is kept for the rest of the statement in the calling
 * expression (fn_extra lives as long as the statement's executor state):
 * a policy that calls it for each row, as a distributed table's must
 * (Citus takes no subquery in a policy), reads the grants once per
 * statement, as the (SELECT allowed_projects()) of one node's policies
 * does.
 */
typedef struct AllowedCache
{
	Oid			role;
	bool		isnull;
	ArrayType  *projects;
} AllowedCache;

/*
 * The projects role may use, as a uuid[] in the current memory context; NULL
 * for a role that is not confined (it may use every project)
 */
ArrayType *
PtAllowedProjects(Oid role)
{
	ProjectList l;
	ListCell   *lc;

	if (PtUnconfined(role))
		return NULL;
	l.role = role;
	l.n = 0;
	l.size = 16;
	l.elems = palloc(sizeof(Datum) * l.size);
	foreach(lc, ClaimProjects())
		(void) CollectGranted(l.role, lfirst(lc), &l);
	(void) ForEachGrant(NULL, CollectGranted, &l);
	return construct_array(l.elems, l.n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
}

Datum
participants_allowed_projects(PG_FUNCTION_ARGS)
{
	Oid			role = GetUserId();
	AllowedCache *cache = fcinfo->flinfo->fn_extra;

	if (cache != NULL && cache->role == role)
	{
		if (cache->isnull)
			PG_RETURN_NULL();
		PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(cache->projects)));
	}
	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AllowedCache));
	else if (cache->projects != NULL)
		pfree(cache->projects);
	cache->role = role;
	cache->projects = NULL;
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cache->projects = PtAllowedProjects(role);
		MemoryContextSwitchTo(old);
	}
	cache->isnull = cache->projects == NULL;
	if (cache->isnull)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(cache->projects)));
}
