/*
 * search/search.h
 *		Search: the filter language of query_participants and dynamic
 *		segments (filter.c) and query_participants with its pages (query.c).
 */
#ifndef PT_SEARCH_H
#define PT_SEARCH_H

#include "participant/participant.h"

/* filter.c */
#define PT_MAX_PARAMS 200

/* The search text of participant p: the expression of participant_search_idx */
#define PT_SEARCH_TEXT \
	"participants.participant_search_text(p.date_of_birth, VARIADIC ARRAY[" \
	"p.participant_identifier, p.link_identifier, p.custom_fields ->> 'SecondaryIdentifier', " \
	"p.email, p.first_name, p.middle_name, p.last_name, p.preferred_language, p.gender, " \
	"p.street1, p.street2, p.city, p.state, p.postal_code, p.mobile_phone, p.utc_offset])"

/* A statement being built, with its parameters */
typedef struct PtQuery
{
	StringInfoData sql;
	int			nparams;
	bool		filtered;		/* a filter beyond the project */
	Oid			types[PT_MAX_PARAMS];
	Datum		values[PT_MAX_PARAMS];
} PtQuery;

/* custom_fields equality: the stored value equals one alternative */
typedef struct PtFilterField
{
	char	   *name;
	bool		isnull;			/* matches a missing or null value */
	int			nalt;
	JsonbValue	alt[3];			/* the value, and others with its text */
} PtFilterField;

/* demographic_fields equality */
typedef struct PtFilterDemo
{
	PtDemo		demo;
	bool		empty;			/* "": matches an empty field */
	char	   *value;			/* lowercased; phone normalized; DOB in ISO */
	DateADT		dob;
} PtFilterDemo;

/* A parsed filter; all conditions combine with AND */
typedef struct PtFilter
{
	char	   *query;			/* lowercased substring, or NULL */
	int			ncf;
	PtFilterField *cf;
	int			ndemo;
	PtFilterDemo *demo;
	bool		has_invitation;
	char	   *invitation;		/* NULL: no invitation status */
	int			enrolled;		/* -1 either, 0 no, 1 yes */
	int			withdrawn;		/* likewise */
} PtFilter;

extern int	PtQueryParam(PtQuery *q, Oid type, Datum value);
extern char *PtLower(const char *s);
extern PtDemo PtDemographicByName(const char *name, const char *what);
extern char *PtSearchText(const char *dob_iso, const char *const *fields, int nfields);
extern void PtFilterQuery(PtFilter *f, const char *s, const char *prefix);
extern void PtFilterCustomFields(PtFilter *f, Jsonb *filters, const char *prefix);
extern void PtFilterDemographics(PtFilter *f, Jsonb *filters, const char *prefix);
extern void PtFilterSegment(PtFilter *f, Jsonb *filter);
extern void PtFilterSql(PtQuery *q, PtFilter *f, bool query_custom_fields);
extern bool PtFilterMatches(PtFilter *f, PtRecord *rec);

/* query.c */
extern Jsonb *PtParticipantPage(int32 page_number, int32 page_size, int64 total,
								Jsonb **rows, int nrows);

#endif							/* PT_SEARCH_H */
