/*
 * core/core.h
 *		What every part of the participants extension shares: its SQLSTATEs,
 *		the demographic fields and custom field types, value checks
 *		(values.c), argument helpers (args.c), SPI and executor helpers
 *		(sql.c), the jsonb writer (json_write.c) and the one relcache
 *		invalidation callback (cache.c). Nothing here knows of projects,
 *		participants, segments or studies.
 */
#ifndef PT_CORE_H
#define PT_CORE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/uuid.h"
#include "fmgr.h"
#include "storage/lockdefs.h"

/* The SQLSTATEs of doc/errors.md that PostgreSQL has no name for */
#define ERRCODE_PT_NOT_FOUND	MAKE_SQLSTATE('P','T','4','0','4')
#define ERRCODE_PT_CONFLICT		MAKE_SQLSTATE('P','T','4','0','9')

/* Demographic fields, in the order of the participant object (doc/participants.md) */
typedef enum PtDemo
{
	DEMO_EMAIL = 0,
	DEMO_FIRST_NAME,
	DEMO_MIDDLE_NAME,
	DEMO_LAST_NAME,
	DEMO_DATE_OF_BIRTH,
	DEMO_PREFERRED_LANGUAGE,
	DEMO_GENDER,
	DEMO_STREET1,
	DEMO_STREET2,
	DEMO_CITY,
	DEMO_STATE,
	DEMO_POSTAL_CODE,
	DEMO_MOBILE_PHONE,
	DEMO_UTC_OFFSET,
	NUM_DEMO
} PtDemo;

extern const char *const pt_demo_keys[NUM_DEMO];	/* JSON keys */
extern const char *const pt_demo_cols[NUM_DEMO];	/* table columns */

/* Custom field types (doc/custom-fields.md) */
typedef enum PtFieldType
{
	CF_UNDECLARED = 0,
	CF_TEXT,
	CF_NUMBER,
	CF_INTEGER,
	CF_BOOLEAN,
	CF_DATE,
	CF_TIMESTAMP
} PtFieldType;

/* values.c: checks of single values, shared by bodies, filters and triggers */
extern int	pt_max_custom_fields;
extern void PtParseUuid(const char *text, const char *what, pg_uuid_t *out);
extern void PtCheckEmail(const char *value, const char *key);
extern char *PtNormalizePhone(const char *value, const char *key);
extern bool PtPhoneIsNormalized(const char *value);
extern DateADT PtCheckDateOfBirth(const char *value, const char *key);
extern void PtCheckUtcOffset(const char *value, const char *key);
extern void PtCheckGender(const char *value, const char *key);
extern void PtCheckInvitationStatus(const char *value, const char *key);
extern DateADT PtParseIsoDate(const char *value, const char *key);
extern PtFieldType PtFieldTypeFromName(const char *name);
extern void PtCheckFieldOptions(Jsonb *options);
extern char *PtFieldSortKey(PtFieldType type, const char *column, const char *name);
extern const char *PtFieldTypeName(PtFieldType type);
extern void PtCheckFieldName(const char *name);
extern void PtCoerceFieldValue(PtFieldType type, JsonbValue *v, const char *key);
extern void PtCheckStoredFieldValue(PtFieldType type, JsonbValue *v, const char *key);
extern char *PtJsonbTypeName(JsonbValue *v);
extern void PtCheckObject(Jsonb *jb, const char *label, const char *expected);
extern Datum PtTextToNumeric(const char *s);
extern bool PtNumericIsWhole(Numeric n);
extern void PtCheckCustomFieldCount(int n, const char *path);

extern void PtCheckPaging(int32 page_number, int32 page_size, const char *items);

/* args.c: arguments of SQL-callable functions */
extern void PtNotNull(FunctionCallInfo fcinfo, int arg, const char *name);
extern char *PtUuidText(pg_uuid_t *id);
extern void PtRandomUuid(pg_uuid_t *u);
extern char *PtCheckName(text *name, const char *what);

/* cache.c: the one relcache invalidation callback, shared by every cache */
typedef void (*PtCacheReset) (Oid relid);
extern void PtCacheRegister(PtCacheReset reset);
extern struct HTAB *PtCacheCreate(const char *name, Size keysize, Size entrysize,
								  MemoryContext *cxt);

/* sql.c: SPI statements, subtransactions, single-row executor writes */
struct _SPI_plan;
extern void PtPreparePlan(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types);
extern struct _SPI_plan *PtKeepPlan(const char *sql, int nargs, Oid *types, int cursor_options);
extern int	PtExecutePlan(struct _SPI_plan *plan, Datum *args, const char *nulls,
						  bool read_only, long count);
extern bool PtRunValue(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types,
					   Datum *args, const char *nulls, bool read_only, Datum *value, bool *isnull);
extern bool PtRowExists(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types,
						Datum *args, const char *nulls, bool read_only);
extern ErrorData *PtSubtransaction(void (*fn) (void *arg), void *arg);
extern Jsonb *PtJsonbStatement(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types,
							   Datum *args, const char *nulls, bool read_only);

extern Oid	PtTableRelid(const char *name);
extern bool PtHaveGovernance(void);
extern bool PtHaveLifecycle(void);
extern Datum PtTupleCol(HeapTuple t, TupleDesc desc, const char *col, bool *isnull);
extern bool PtTupleColChanged(HeapTuple a, HeapTuple b, TupleDesc desc, const char *col);
extern bool PtAttChanged(HeapTuple a, HeapTuple b, TupleDesc desc, int att);
extern JsonbValue *PtRequestValue(const char *setting, const char *key);
extern Datum PtDatabaseRowsOnly(FunctionCallInfo fcinfo, const char *trigger, bool allowed,
								const char *message, const char *detail, const char *hint);

/* placement.c: where a project's rows live (one node, or a Citus shard) */
extern bool PtDistributed(void);
extern bool PtProjectIsLocal(pg_uuid_t *project);
extern Oid	PtLocalTable(Oid relid, pg_uuid_t *project);
extern Oid	PtLocalIndex(Oid index, Oid relid, Oid local);
extern Oid	PtLocalIndexRelid(const char *index, Oid relid, Oid local);
extern bool PtIsShardOf(Oid rel, Oid relid);
extern Oid	PtShellOf(Oid rel);
extern bool PtIsDistributedTable(Oid relid);

struct SnapshotData;

/* Executor state for single-row writes to one table */
typedef struct PtRowWrites
{
	struct EState *estate;
	struct ResultRelInfo *rri;
	EPQState	epq;
} PtRowWrites;

extern void PtBeginRowWrites(PtRowWrites *w, struct RelationData *rel, struct SnapshotData *snap);
extern void PtInsertRow(Oid relid, pg_uuid_t *project, int ncols, const char *const *cols,
						Datum *values, bool *nulls);
extern void PtEndRowWrites(PtRowWrites *w);

/* json_write.c: jsonb values written straight into jsonb's binary layout */
typedef enum PtJbType
{
	PT_JB_SKIP,					/* leave the key out */
	PT_JB_NULL,
	PT_JB_BOOL,
	PT_JB_STRING,
	PT_JB_NUMERIC,
	PT_JB_CONTAINER,			/* an existing jsonb container, copied */
	PT_JB_OBJECT				/* a nested object of fields */
} PtJbType;

typedef struct PtJbField
{
	const char *key;
	PtJbType	type;
	bool		boolean;
	const char *str;
	Numeric		num;
	JsonbContainer *container;
	int			container_len;
	struct PtJbField *fields;
	int			nfields;
} PtJbField;

extern void PtJbWriteObject(StringInfo buf, PtJbField *fields, int n);
extern Jsonb *PtJbObject(PtJbField *fields, int n);

extern void PtPushKey(JsonbParseState **state, const char *key);
extern void PtPushNumber(JsonbParseState **state, const char *key, int64 n);
extern void PtPushString(JsonbParseState **state, const char *key, const char *s);

#endif							/* PT_CORE_H */
