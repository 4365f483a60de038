{#
  The data queries to send back to each centre, in the centre's own patient ids and its own
  file, row and column names: every row held back (kind quarantined), every value set to
  missing (kind nulled, naming the rule and what it allows: "bm_blasts_pct_pre: 134.8 outside
  0–100"), every exact duplicate removed, every plausibility finding, and every patient of the
  previous accepted delivery that the current one dropped (kind dropped_patient). Restricted:
  the only output besides the crosswalk with centre patient ids; written per centre by the
  Dagster asset centre_query_files and never exported to the analyst database.
#}
{%- set layouts = centre_layouts() -%}
{%- set entities = canonical_columns().keys() | list -%}
with

quarantine as (
    select * from {{ ref('quarantine') }}
),

nulled_fields as (
    select * from {{ ref('nulled_fields') }}
),

findings as (
    select * from {{ ref('plausibility_findings') }}
),

crosswalk as (
    select * from {{ ref('patient_crosswalk') }}
),

catalogue as (
    select * from {{ ref('check_catalogue') }}
),

source_columns as (
    select * from (values
        {%- set rows = [] -%}
        {%- for centre, entities in layouts.items() -%}
            {%- for entity, layout in entities.items() -%}
                {%- for canonical, source in layout.sources.items() -%}
                    {%- do rows.append("('" ~ centre ~ "', '" ~ entity ~ "', '" ~ canonical ~ "', '" ~ (source | replace("'", "''")) ~ "', " ~ layout.header_row ~ ")") -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endfor %}
        {{ rows | join(',\n        ') if rows else "(null, null, null, null, null)" }}
    ) as t(centre_code, entity, column_name, source_column, header_row)
),

header_rows as (
    select distinct centre_code, entity, header_row from source_columns
),

quarantine_queries as (
    select
        quarantine.centre_code,
        quarantine.delivery_id,
        quarantine.patient_key,
        'quarantined' as kind,
        quarantine.rule,
        quarantine.message as what,
        quarantine.entity,
        quarantine.source_file,
        quarantine.source_row_number,
        quarantine.source_row_number + coalesce(header_rows.header_row, 1) as source_line,
        coalesce(source_columns.source_column, quarantine.column_name) as source_column,
        quarantine.source_day,
        quarantine."value"
    from quarantine
    left join source_columns
        on quarantine.centre_code = source_columns.centre_code
        and quarantine.entity = source_columns.entity
        and quarantine.column_name = source_columns.column_name
    left join header_rows
        on quarantine.centre_code = header_rows.centre_code
        and quarantine.entity = header_rows.entity
),

nulled_queries as (
    select
        nulled_fields.centre_code,
        nulled_fields.delivery_id,
        nulled_fields.patient_key,
        'nulled' as kind,
        nulled_fields.rule,
        nulled_fields.message as what,
        nulled_fields.entity,
        nulled_fields.source_file,
        nulled_fields.source_row_number,
        nulled_fields.source_row_number + coalesce(header_rows.header_row, 1) as source_line,
        coalesce(source_columns.source_column, nulled_fields.column_name) as source_column,
        nulled_fields.source_day,
        nulled_fields."value"
    from nulled_fields
    left join source_columns
        on nulled_fields.centre_code = source_columns.centre_code
        and nulled_fields.entity = source_columns.entity
        and nulled_fields.column_name = source_columns.column_name
    left join header_rows
        on nulled_fields.centre_code = header_rows.centre_code
        and nulled_fields.entity = header_rows.entity
),

finding_queries as (
    select
        findings.centre_code,
        coalesce(findings.delivery_id, (
            select delivery_id from {{ ref('int_current_deliveries_staged') }} as current
            where current.centre_code = findings.centre_code)) as delivery_id,
        findings.patient_key,
        'plausibility' as kind,
        findings.check_name as rule,
        findings.detail as what,
        findings.entity,
        findings.source_file,
        findings.source_row_number,
        findings.source_row_number + coalesce(header_rows.header_row, 1) as source_line,
        cast(null as varchar) as source_column,
        cast(null as integer) as source_day,
        findings."value"
    from findings
    left join header_rows
        on findings.centre_code = header_rows.centre_code
        and findings.entity = header_rows.entity
),

duplicate_queries as (
    {%- for entity in entities %}
    select
        checked.centre_code,
        checked._delivery_id as delivery_id,
        checked.patient_key,
        'duplicate_removed' as kind,
        'exact_duplicate' as rule,
        'exact copy of an earlier row of the same file; the copy was removed' as what,
        '{{ entity }}' as entity,
        checked._source_file as source_file,
        checked._row_number as source_row_number,
        checked._row_number + coalesce(header_rows.header_row, 1) as source_line,
        cast(null as varchar) as source_column,
        checked._source_day as source_day,
        cast(null as varchar) as "value"
    from {{ ref('int_' ~ entity ~ '_checked') }} as checked
    left join header_rows
        on checked.centre_code = header_rows.centre_code
        and header_rows.entity = '{{ entity }}'
    where checked._status_rule = 'exact_duplicate'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

queries as (
    select * from quarantine_queries
    union all
    select * from nulled_queries
    union all
    select * from finding_queries
    union all
    select * from duplicate_queries
),

dropped_patients as (
    -- the current delivery's dropped patients, as recorded when it loaded (raw ledger)
    select changes.*
    from {{ source('raw', 'delivery_patient_changes') }} as changes
    inner join {{ ref('int_current_deliveries_staged') }} as current
        on changes.centre_code = current.centre_code
        and changes.delivery_id = current.delivery_id
    where changes.change = 'dropped'
),

dropped_patient_queries as (
    select
        centre_code,
        delivery_id,
        centre_patient_id,
        'dropped_patient' as kind,
        'patient_dropped' as rule,
        'patient ' || centre_patient_id || ' of delivery ' || previous_delivery_id
            || ' is not in this delivery: confirm it was meant (e.g. consent withdrawn) or '
            || 'send a delivery that includes the patient' as what,
        'patients' as entity,
        cast(null as varchar) as source_file,
        cast(null as bigint) as source_row_number,
        cast(null as bigint) as source_line,
        cast(null as varchar) as source_column,
        cast(null as integer) as source_day,
        cast(null as varchar) as "value"
    from dropped_patients
),

final as (
    select
        queries.centre_code,
        queries.delivery_id,
        crosswalk.centre_patient_id,
        queries.kind,
        queries.rule,
        queries.what,
        queries.entity,
        queries.source_file,
        queries.source_row_number,
        queries.source_line,
        queries.source_column,
        queries.source_day,
        queries."value"
    from queries
    left join crosswalk on queries.patient_key = crosswalk.patient_key
    union all
    select * from dropped_patient_queries
)

select * from final
