/*
 * access/access.h
 *		Who may do what: confinement of roles to their projects, the entry of
 *		every API function and trigger (confine.c), and grant_access
 *		(grant.c).
 */
#ifndef PT_ACCESS_H
#define PT_ACCESS_H

#include "core/core.h"

/* confine.c */
extern char *pt_jwt_project_claim;
extern int	pt_deadlock_retries;
extern Oid	PtOwner(void);
extern Oid	PtCaller(void);
extern bool PtUnconfined(Oid role);
extern struct ArrayType *PtAllowedProjects(Oid role);
extern bool PtInRestore(void);
extern void PtCheckProjectAccess(Oid role, pg_uuid_t *project);
/* What an API function's first argument is (PtApiCall) */
#define PT_NO_PROJECT	0		/* none: unconfined callers only */
#define PT_PROJECT		1		/* a project: runs on the node that holds it */
#define PT_PROJECT_HERE 2		/* a project: runs where it is called (the
								 * coordinator on a cluster) */
extern Datum PtApiCall(FunctionCallInfo fcinfo, PGFunction work, int project_arg);
extern Datum PtTriggerCall(FunctionCallInfo fcinfo, PGFunction work);

/*
 * Declare an API function fn whose first argument is a project id: fn checks
 * that the caller may use the project (42501 otherwise), then runs the body
 * that follows the macro, fn_work, as the extension's owner (PtApiCall).
 * PT_API_FUNCTION_UNCONFINED is for create_project and grant_access.
 */
#define PT_API_FUNCTION_AS(fn, project_arg) \
	static Datum fn##_work(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(fn); \
	Datum \
	fn(PG_FUNCTION_ARGS) \
	{ \
		return PtApiCall(fcinfo, fn##_work, project_arg); \
	} \
	static Datum \
	fn##_work(PG_FUNCTION_ARGS)
#define PT_API_FUNCTION(fn) PT_API_FUNCTION_AS(fn, PT_PROJECT)
/* The same, run where it is called: for what writes the reference tables of a cluster */
#define PT_API_FUNCTION_HERE(fn) PT_API_FUNCTION_AS(fn, PT_PROJECT_HERE)

/*
 * Declare a trigger function fn whose body (fn_work) follows the macro: it
 * runs with search_path pinned (PtTriggerCall), whoever fired it.
 */
#define PT_TRIGGER_FUNCTION(fn) \
	static Datum fn##_work(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(fn); \
	Datum \
	fn(PG_FUNCTION_ARGS) \
	{ \
		return PtTriggerCall(fcinfo, fn##_work); \
	} \
	static Datum \
	fn##_work(PG_FUNCTION_ARGS)
/* An API function without a project argument, for unconfined callers only */
#define PT_API_FUNCTION_UNCONFINED(fn) PT_API_FUNCTION_AS(fn, PT_NO_PROJECT)

#endif							/* PT_ACCESS_H */
