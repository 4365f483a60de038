{{ union_staged('labs') }}
