{#
  The quality gate of one entity. A breach of the contract (staging's _violations) either
  holds the whole row back or only sets its value to missing:
    - a breach of a key field (the patient id, the entity's key columns of
      models/extract_format.py Config.unique, the date that anchors the row) quarantines the
      row: it cannot be trusted, or placed;
    - any other breach (a code outside its list, an unreadable or out-of-range value, a
      required value missing) sets that one value to missing; the rest of the row flows on and
      quality.nulled_fields queries the value back to the centre.
  Every staged row then gets one status:
    quarantined        - a key field breaks its contract, or the row shares its key with a row
                         of different content (after nulling): conflicting duplicates are all
                         quarantined;
    duplicate_removed  - an exact copy of an earlier row (same centre and content);
    passed             - everything else; only these rows flow on (int_<entity>_accepted), with
                         the values of non-key breaches set to missing.
#}
{% macro check_entity(entity) %}
{%- set columns = canonical_columns()[entity] | rejectattr('name', 'equalto', 'centre_patient_id') | map(attribute='name') | list -%}
{%- set key = [] -%}
{%- for name in canonical_keys()[entity] -%}
    {%- do key.append('patient_key' if name == 'centre_patient_id' else name) -%}
{%- endfor -%}
with

unioned as (
    select * from {{ ref('int_' ~ entity ~ '_unioned') }}
),

classified as (
    select
        *,
        len(list_filter(_violations, lambda v: v.key_field)) > 0 as _key_breached,
        list_transform(list_filter(_violations, lambda v: not v.key_field), lambda v: v."column")
            as _nulled_columns
    from unioned
),

nulled as (
    select
        * exclude (_nulled_columns)
        {%- if columns %}
        replace (
            {%- for column in columns %}
            case when list_contains(_nulled_columns, '{{ column }}') then null else {{ column }} end
                as {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        )
        {%- endif %}
    from classified
),

fingerprinted as (
    select
        *,
        md5(concat_ws(chr(31),
            coalesce(patient_key, chr(0)),
            {%- for column in columns %}
            coalesce(cast({{ column }} as varchar), chr(0)){{ "," if not loop.last }}
            {%- endfor %}
        )) as _fingerprint
    from nulled
),

windowed as (
    -- rows without a key breach: the rank of the row among its exact copies (same centre and
    -- content), and whether its key holds rows of different content (a conflict)
    select
        *,
        row_number() over (
            partition by centre_code, _key_breached, _fingerprint
            order by _source_file, _row_number, _source_day
        ) as _copy_rank,
        min(_fingerprint) over same_key <> max(_fingerprint) over same_key as _conflicting
    from fingerprinted
    window same_key as (partition by centre_code, _key_breached, {{ key | join(', ') }})
),

checked as (
    select
        * exclude (_fingerprint, _key_breached, _copy_rank, _conflicting),
        case
            when _key_breached then 'quarantined'
            when _conflicting then 'quarantined'
            when _copy_rank > 1 then 'duplicate_removed'
            else 'passed'
        end as _row_status,
        case
            when _key_breached then 'contract'
            when _conflicting then 'conflicting_duplicate'
            when _copy_rank > 1 then 'exact_duplicate'
        end as _status_rule
    from windowed
)

select * from checked
{% endmacro %}


{% macro accept_entity(entity) %}
{#- a view: the passed rows of the checked table, read by the clinical models and the gate's
    tests; as a table it copied every passed row (3 M daily rows at 100,000 patients) -#}
{{ config(materialized='view') }}
select * exclude (_violations, _row_status, _status_rule)
from {{ ref('int_' ~ entity ~ '_checked') }}
where _row_status = 'passed'
{% endmacro %}
