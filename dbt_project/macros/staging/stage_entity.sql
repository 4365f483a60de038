{#
  Staging of one centre's entity, driven by the spec that cartwh.transform.codegen builds from the
  centre's mapping file (docs/mapping-files.md). Only the centre's current delivery flows on.
  Output: centre_code, the canonical columns typed, the row's provenance
  (_delivery_id, _source_file, _row_number; _source_day for wide layouts) and _violations,
  the row's breaches of its contract (models/extract_format.py): a list of
  {column, value, rule, allowed, key_field} with rule required_missing | unknown_code |
  unparsable | out_of_range, allowed what the rule accepts (a range, the codes, a format) and
  key_field true for a column the row cannot be trusted without (the patient id, the entity's
  key, the date that anchors the row). Values of PHI columns are masked, and staged values are
  as delivered: the gate (macros/intermediate/check_entity.sql) decides, never staging, whether
  a breach sets the value to missing or holds the whole row back.
#}
{% macro stage_entity(spec) %}
{%- if spec.absent %}
{# the centre's mapping has no such entity: an empty relation of the canonical columns #}
select
    '{{ spec.centre }}' as centre_code,
    {%- for column in spec.columns %}
    cast(null as {{ canonical_sql_type(column.dtype) }}) as {{ column.name }},
    {%- endfor %}
    {{ null_provenance_columns() }}
where false
{%- else %}
{%- set raw_relation = source('raw', spec.source_table) -%}
with

current_delivery as (
    select delivery_id
    from {{ source('raw', 'current_deliveries') }}
    where centre_code = '{{ spec.centre }}'
),

delivered as (
    select raw_rows.*
    from {{ raw_relation }} as raw_rows
    inner join current_delivery on raw_rows._delivery_id = current_delivery.delivery_id
),

{% if spec.wide %}
{{ wide_to_long(spec, raw_relation) }}
{% else %}
source_rows as (
    select * from delivered
),
{% endif %}

typed as (
    select
        '{{ spec.centre }}' as centre_code,
        {%- for column in spec.columns %}
        {{ stage_column(column, spec) }} as {{ column.name }},
        {{ stage_text(column) if not (spec.wide and column.name == spec.wide_date_column) else 'cast(_wide_date as varchar)' }} as {{ column.name }}__text,
        {%- endfor %}
        _delivery_id,
        _source_file,
        _row_number,
        {% if spec.wide %}_source_day{% else %}cast(null as integer) as _source_day{% endif %}
    from source_rows
),

checked as (
    select
        * exclude (
            {%- for column in spec.columns %}
            {{ column.name }}__text{{ "," if not loop.last }}
            {%- endfor %}
        ),
        list_filter([
            {%- for column in spec.columns %}
            {{ column_violations(column, spec) }}{{ "," if not loop.last }}
            {%- endfor %}
        ], lambda v: v is not null) as _violations
    from typed
)

select * from checked
{%- endif %}
{% endmacro %}


{# The text of one mapped column: trimmed, null tokens removed. #}
{% macro stage_text(column) -%}
{%- if column.value is not none -%}
    '{{ column.value | replace("'", "''") }}'
{%- elif column.source is none -%}
    cast(null as varchar)
{%- else -%}
    case
        when trim({{ adapter.quote(column.source) }}) in (
            {%- for token in column.null_values %}'{{ token | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
        ) then null
        else trim({{ adapter.quote(column.source) }})
    end
{%- endif -%}
{%- endmacro %}


{# One canonical column: code mapping, parsing by type, unit conversion. #}
{% macro stage_column(column, spec) -%}
{%- set text = stage_text(column) -%}
{%- if column.dtype == 'code' -%}
    {%- if column.codes %}
    case {{ text }}
        {%- for source_code, canonical_code in column.codes.items() %}
        when '{{ source_code | replace("'", "''") }}' then '{{ canonical_code }}'
        {%- endfor %}
    end
    {%- else %}
    case when {{ text }} in ({% for code in column.canonical_codes %}'{{ code }}'{{ ", " if not loop.last }}{% endfor %})
        then {{ text }} end
    {%- endif -%}
{%- elif column.dtype == 'date' -%}
    {%- if column.name == spec.wide_date_column and spec.wide -%}
    _wide_date
    {%- else -%}
    {{ parse_date(text, column.date_format, column.excel) }}
    {%- endif -%}
{%- elif column.dtype in ('decimal', 'integer') -%}
    {%- set number = parse_number(text, column.decimal, column.thousands) -%}
    {%- set converted = number if column.unit_scale is none else '(' ~ number ~ ' * ' ~ column.unit_scale ~ ' + ' ~ column.unit_offset ~ ')' -%}
    {%- if column.dtype == 'integer' -%}
    case when {{ converted }} = floor({{ converted }}) then cast({{ converted }} as integer) end
    {%- else -%}
    {{ converted }}
    {%- endif -%}
{%- else -%}
    {{ text }}
{%- endif -%}
{%- endmacro %}


{#
  A number written with the declared marks, or null. The text must match the layout exactly
  (sign, digits, the thousands mark only between whole groups of three digits, at most one
  decimal mark, an optional exponent): a mark in any other place (4.9 when the thousands mark
  is '.', 1.5 when the decimal mark is ',' and there is no thousands mark) would change the
  value's magnitude, so it is unparsable, never guessed.
#}
{% macro parse_number(text, decimal_mark, thousands_mark='none') -%}
{%- set d = '\\' ~ (decimal_mark or '.') -%}
{%- set t = thousands_mark or 'none' -%}
{%- set whole = '[0-9]+' if t == 'none' else '([0-9]{1,3}(' ~ ('\\' ~ t if t != ' ' else ' ') ~ '[0-9]{3})+|[0-9]+)' -%}
{%- set pattern = '^[+-]?(' ~ whole ~ '(' ~ d ~ '[0-9]*)?|' ~ d ~ '[0-9]+)([eE][+-]?[0-9]+)?$' -%}
{%- set plain = text if t == 'none' else "replace(" ~ text ~ ", '" ~ (t | replace("'", "''")) ~ "', '')" -%}
{%- set plain = plain if decimal_mark in (none, '.') else "replace(" ~ plain ~ ", '" ~ decimal_mark ~ "', '.')" -%}
    case when regexp_full_match({{ text }}, '{{ pattern | replace("'", "''") }}')
        then try_cast({{ plain }} as double) end
{%- endmacro %}


{#
  A date in the declared format. Excel date and date-time cells arrive as ISO text
  (2020-06-01, 2020-06-01T13:45:00) whatever the format declared for typed-in cells.
#}
{% macro parse_date(text, date_format, excel=false) -%}
{%- if date_format == 'excel_serial' -%}
    {%- set declared = "cast(date '1899-12-30' + cast(floor(try_cast(" ~ text ~ " as double)) as integer) as date)" -%}
{%- elif date_format == 'iso' -%}
    {%- set declared = "cast(try_strptime(" ~ text ~ ", '%Y-%m-%d') as date)" -%}
{%- else -%}
    {%- set declared = "cast(try_strptime(" ~ text ~ ", '" ~ (date_format | replace("'", "''")) ~ "') as date)" -%}
{%- endif -%}
{%- if excel -%}
    coalesce({{ declared }}, cast(try_strptime({{ text }}, ['%Y-%m-%d', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f']) as date))
{%- else -%}
    {{ declared }}
{%- endif -%}
{%- endmacro %}


{#
  Wide to long: every source column matching the pattern is one cell; the cells of a source
  row that share a study day make one canonical row, dated index infusion + day.
#}
{% macro wide_to_long(spec, raw_relation) %}
{%- set cells = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(raw_relation) -%}
        {%- if modules.re.match(spec.wide.pattern, column.name) -%}
            {%- do cells.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set id_source = spec.wide.id_source -%}
index_infusion as (
    select centre_patient_id, infusion_date
    from {{ ref('stg_' ~ spec.centre ~ '__infusions') }}
    where infusion_number = 1
),

{% if cells %}
cells as (
    unpivot delivered
    on {% for cell in cells %}{{ adapter.quote(cell) }}{{ ", " if not loop.last }}{% endfor %}
    into name _wide_column value _wide_value
),
{% else %}
cells as (
    select *, cast(null as varchar) as _wide_column, cast(null as varchar) as _wide_value
    from delivered where false
),
{% endif %}

measured as (
    select
        *,
        regexp_extract(_wide_column, '{{ spec.wide.pattern }}', {{ spec.wide.measure_group }}) as _measure,
        try_cast(regexp_extract(_wide_column, '{{ spec.wide.pattern }}', {{ spec.wide.day_group }}) as integer) as _source_day
    from cells
    where trim(_wide_value) <> ''
),

source_rows as (
    select
        measured._delivery_id,
        measured._source_file,
        measured._row_number,
        measured._source_day,
        {%- for id_column in spec.wide.id_columns %}
        any_value(measured.{{ adapter.quote(id_column) }}) as {{ adapter.quote(id_column) }},
        {%- endfor %}
        {%- for measure in spec.wide.measures %}
        any_value(measured._wide_value) filter (where measured._measure = '{{ measure }}') as {{ adapter.quote(measure) }},
        {%- endfor %}
        any_value(index_infusion.infusion_date) + measured._source_day as _wide_date
    from measured
    left join index_infusion
        on trim(measured.{{ adapter.quote(id_source) }}) = index_infusion.centre_patient_id
    group by measured._delivery_id, measured._source_file, measured._row_number, measured._source_day
),
{% endmacro %}


{#
  The contract breaches of one column, as {column, value, rule, allowed, key_field} structs
  (null = none). allowed says what the rule accepts, in the centre's terms where they differ
  (the source codes of a code map, the declared date format and decimal mark).
#}
{% macro column_violations(column, spec) -%}
{%- set text = column.name ~ '__text' -%}
{%- set shown = "'***'" if column.phi else text -%}
{%- set failed_rule = 'unknown_code' if column.dtype == 'code' else 'unparsable' -%}
{%- set key_field = column.name == 'centre_patient_id' or column.name in (spec.key or [])
    or column.name == spec.wide_date_column -%}
{%- set key_sql = 'true' if key_field else 'false' -%}
    {%- if column.required %}
            case when {{ text }} is null
                then {{ violation_struct(column.name, 'cast(null as varchar)', 'required_missing', none, key_sql) }} end,
    {%- endif %}
            case when {{ text }} is not null and {{ column.name }} is null
                then {{ violation_struct(column.name, shown, failed_rule, accepted_values(column, spec), key_sql) }} end
    {%- if column.minimum is not none or column.maximum is not none %},
            case when
                {%- if column.minimum is not none %} {{ column.name }} {{ '<=' if column.minimum_exclusive else '<' }} {{ column.minimum }}{% endif %}
                {%- if column.minimum is not none and column.maximum is not none %} or{% endif %}
                {%- if column.maximum is not none %} {{ column.name }} > {{ column.maximum }}{% endif %}
                then {{ violation_struct(column.name, shown, 'out_of_range', allowed_range(column), key_sql) }} end
    {%- endif -%}
{%- endmacro %}


{% macro violation_struct(name, value_sql, rule, allowed, key_sql) -%}
{'column': '{{ name }}', 'value': {{ value_sql }}, 'rule': '{{ rule }}', 'allowed': {{ "cast(null as varchar)" if allowed is none else "'" ~ (allowed | replace("'", "''")) ~ "'" }}, 'key_field': {{ key_sql }}}
{%- endmacro %}


{# What a value must be to be readable: the codes (the centre's, where it maps them) or a format. #}
{% macro accepted_values(column, spec) -%}
{%- if column.dtype == 'code' -%}
    {{- 'one of ' ~ ((column.codes.keys() | list) if column.codes else column.canonical_codes) | join(', ') -}}
{%- elif column.dtype == 'date' -%}
    {%- if column.name == spec.wide_date_column and spec.wide -%}
    {{- 'a study day of a patient with an index infusion' -}}
    {%- elif column.date_format == 'excel_serial' -%}
    {{- 'a date (Excel day number)' -}}
    {%- elif column.date_format == 'iso' -%}
    {{- 'a date as YYYY-MM-DD' -}}
    {%- else -%}
    {{- 'a date as ' ~ column.date_format -}}
    {%- endif -%}
{%- elif column.dtype == 'integer' -%}
    {{- 'a whole number' -}}
{%- elif column.dtype == 'decimal' -%}
    {{- 'a number' ~ (" with decimal mark '" ~ column.decimal ~ "'" if column.decimal and column.decimal != '.' else '') -}}
{%- else -%}
    {{- 'text' -}}
{%- endif -%}
{%- endmacro %}


{# The allowed range of a number, in canonical units: "0–100", "> 0", ">= 0", "<= 5". #}
{% macro allowed_range(column) -%}
{%- set low = none if column.minimum is none else '%g' | format(column.minimum) -%}
{%- set high = none if column.maximum is none else '%g' | format(column.maximum) -%}
{%- if low is not none and high is not none and not column.minimum_exclusive -%}
    {{- low ~ '–' ~ high -}}
{%- elif low is not none and high is not none -%}
    {{- '> ' ~ low ~ ' and <= ' ~ high -}}
{%- elif low is not none -%}
    {{- ('> ' if column.minimum_exclusive else '>= ') ~ low -}}
{%- else -%}
    {{- '<= ' ~ high -}}
{%- endif -%}
{{- ' (after conversion from the delivered unit)' if column.unit_scale is not none else '' -}}
{%- endmacro %}


{# The provenance columns of a staged row, typed, for relations that have no rows. #}
{% macro null_provenance_columns() -%}
    cast(null as varchar) as _delivery_id,
    cast(null as varchar) as _source_file,
    cast(null as bigint) as _row_number,
    cast(null as integer) as _source_day,
    cast([] as struct("column" varchar, "value" varchar, "rule" varchar, "allowed" varchar, "key_field" boolean)[])
        as _violations
{%- endmacro %}
