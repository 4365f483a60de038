{#
  All centres' staged rows of one entity, with the pseudonymous patient_key in place of the
  centre's patient id (which stays in staging and restricted.patient_crosswalk).
  Direct identifiers (PHI columns of models/extract_format.py) are not carried.
#}
{% macro union_staged(entity) %}
{%- set centres = cartwh_centres() -%}
{%- set columns = canonical_columns()[entity] | rejectattr('name', 'equalto', 'centre_patient_id') | list -%}
with

crosswalk as (
    select * from {{ ref('patient_crosswalk') }}
),

staged as (
    {%- for centre in centres %}
    select
        centre_code,
        centre_patient_id,
        {%- for column in columns %}
        {{ column.name }},
        {%- endfor %}
        _delivery_id,
        _source_file,
        _row_number,
        _source_day,
        _violations
    from {{ ref('stg_' ~ centre ~ '__' ~ entity) }}
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select
        cast(null as varchar) as centre_code,
        cast(null as varchar) as centre_patient_id,
        {%- for column in columns %}
        cast(null as {{ canonical_sql_type(column.dtype) }}) as {{ column.name }},
        {%- endfor %}
        {{ null_provenance_columns() }}
    where false
    {%- endfor %}
),

keyed as (
    select
        crosswalk.patient_key,
        staged.* exclude (centre_patient_id)
    from staged
    left join crosswalk
        on staged.centre_code = crosswalk.centre_code
        and staged.centre_patient_id = crosswalk.centre_patient_id
)

select * from keyed
{% endmacro %}


{% macro canonical_sql_type(dtype) -%}
{{ {'text': 'varchar', 'code': 'varchar', 'date': 'date', 'integer': 'integer', 'decimal': 'double'}[dtype] }}
{%- endmacro %}
