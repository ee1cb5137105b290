-- directory: the psql view, flat and readable
SELECT project, participant_identifier, secondary_identifier, first_name, middle_name, last_name, email,
       mobile_phone, date_of_birth, enrolled, withdrawn, opted_out, invitation_status, segment_count, custom_fields
FROM participants.participant_directory
WHERE participant_identifier IN ('MDH-0001', 'MDH-0002', 'E2', 'RAW2')
ORDER BY participant_identifier;
SELECT project, count(*) FROM participants.participant_directory GROUP BY 1 ORDER BY 1;
