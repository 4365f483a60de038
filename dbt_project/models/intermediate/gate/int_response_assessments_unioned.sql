{{ union_staged('response_assessments') }}
