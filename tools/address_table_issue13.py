# Rows for issue 13: the classes of address block a held-out corpus showed wrong, each row with
# the source of its shape. Read by tools/gen_address_table.py (which defines ok/err/us/eu/...).

# ---------------------------------------------------------------- the company's country
S = "issue 13: a non-U.S. company's structured ship-to without Country (QBO CompanyInfo.Country)"
ok(None, name="Jack Wilson", s1="12 Hay St", city="Perth", state="WA", zip="6004", country="AU", customer={"display_name": "Jack Wilson"}, shipaddr={"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "WA", "PostalCode": "6004"}, default_country="AU", source=S)
ok(None, name="Jack Wilson", s1="12 Hay St", city="Perth", state="WA", zip="6004", country="AU", customer={"display_name": "Jack Wilson"}, shipaddr={"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "Western Australia", "PostalCode": "6004"}, default_country="AU", source=S)
ok(None, name="Jack Wilson", s1="1 Macquarie St", city="Sydney", state="NSW", zip="2000", country="AU", customer={"display_name": "Jack Wilson"}, shipaddr={"Line1": "1 Macquarie St", "City": "Sydney", "CountrySubDivisionCode": "New South Wales", "PostalCode": "2000"}, default_country="au", source=S + "; the setting in lower case")
ok(None, name="Jack Wilson", s1="12 Hay St", city="Perth", state=None, zip="6004", country="AU", customer={"display_name": "Jack Wilson"}, shipaddr={"Line1": "12 Hay St", "City": "Perth", "PostalCode": "6004"}, default_country="AU", source=S + "; no state")
ok(None, name="Jack Wilson", s1="12 Hay St", city="Perth", state="WA", zip="6004", country="AU", customer={"display_name": "Jack Wilson"}, shipaddr={"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "WA", "PostalCode": "6 0 0 4"}, default_country="AU", source=S + "; postcode typed with spaces")
ok(None, name="Jane Roe", s1="12 Oak Ave", city="Springfield", state="IL", zip="62704", country="US", customer={"display_name": "Jane Roe"}, shipaddr={"Line1": "12 Oak Ave", "City": "Springfield", "CountrySubDivisionCode": "IL", "PostalCode": "62704"}, default_country="AU", source=S + "; a U.S. state and ZIP fit only the U.S.")
ok(None, name="Jack Wilson", s1="12 Hay St", city="Perth", state="WA", zip="6004", country="AU", customer={"display_name": "Jack Wilson"}, shipaddr={"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "WA", "PostalCode": "6004"}, source="issue 13: WA and a 4-digit postcode fit only Australia, whatever the company's country")
ok(None, name="Emma Tremblay", s1="290 Bremner Blvd", city="Toronto", state="ON", zip="M5V 3L9", country="CA", customer={"display_name": "Emma Tremblay"}, shipaddr={"Line1": "290 Bremner Blvd", "City": "Toronto", "CountrySubDivisionCode": "ON", "PostalCode": "M5V3L9"}, default_country="CA", source=S)
ok(None, name="Oliver Smith", s1="10 Downing Street", city="London", state=None, zip="SW1A 2AA", country="GB", customer={"display_name": "Oliver Smith"}, shipaddr={"Line1": "10 Downing Street", "City": "London", "PostalCode": "SW1A2AA"}, default_country="GB", source=S)
ok(None, name="Hans Müller", s1="Hauptstraße 5", city="Berlin", state=None, zip="10115", country="DE", customer={"display_name": "Hans Müller"}, shipaddr={"Line1": "Hauptstraße 5", "City": "Berlin", "PostalCode": "10115"}, default_country="DE", source=S)
err(None, "missing_postal_code", shipaddr={"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "WA"}, customer={"display_name": "Jack Wilson"}, default_country="AU", source=S + "; no postcode")
S = "issue 13: a free-form block without a country line, read in the company's country"
au(["Jack Wilson", "12 Hay St", "Perth 6004"], "Jack Wilson", "12 Hay St", "Perth", None, "6004", default_country="AU", source=S)
au(["Jack Wilson", "12 Hay St", "Perth Western Australia 6004"], "Jack Wilson", "12 Hay St", "Perth", "WA", "6004", default_country="AU", source=S)
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", default_country="DE", source=S)
eu(["Claire Dubois", "12 rue de Rivoli", "75001 Paris"], "Claire Dubois", "12 rue de Rivoli", "Paris", "75001", "FR", default_country="FR", source=S)
eu(["Aroha Ngata", "1 Queen Street", "Auckland 1010"], "Aroha Ngata", "1 Queen Street", "Auckland", "1010", "NZ", default_country="NZ", source=S)
eu(["Jan de Vries", "Damrak 1", "1012AB Amsterdam"], "Jan de Vries", "Damrak 1", "Amsterdam", "1012 AB", "NL", default_country="NL", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", default_country="AU", source=S + "; the city line fits only the U.S.")
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", default_country="DE", source=S + "; the city line fits only the U.S.")
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", default_country="US", source=S + "; the U.S. set explicitly")
us(["Juan Pérez", "123 Calle Sol", "San Juan 00921"], "Juan Pérez", "123 Calle Sol", "San Juan", "PR", "00921", default_country="PR", source=S + "; a Puerto Rico company")
gb(["Oliver Smith", "10 Downing Street", "London SW1A 2AA"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", default_country="AU", source=S + "; a UK postcode names its country")
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin", "Deutschland"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", default_country="AU", source=S + "; the block names its own country")
err(["Jack Wilson", "12 Hay St", "Perth WA"], "missing_postal_code", default_country="AU", source=S + "; no postcode")
err(["Hans Müller", "Hauptstraße 5", "10115 Berlin"], "missing_country", default_country="GB", source=S + "; a German city line under a UK company")
err(["Hans Müller", "Hauptstraße 5", "10115 Berlin"], "unknown_country", default_country="XX", source="issue 13: a company country that is not an ISO code is never guessed around")
err(["Hans Müller", "Hauptstraße 5", "10115 Berlin"], "unknown_country", default_country="Germany", source="issue 13: a company country that is not an ISO code is never guessed around")
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin", "Germany"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", default_country="XX", source="issue 13: a bad company country does not matter when the block names its country")

# ---------------------------------------------------------------- country names (CLDR)
S = "issue 13: a country's name in another language or its own (CLDR 48 territory names)"
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704", "Verenigde Staten"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704", "Estados Unidos de América"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704", "Stati Uniti"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704", "Yhdysvallat"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin", "Alemania"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", source=S)
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin", "Niemcy"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", source=S)
gb(["Oliver Smith", "10 Downing Street", "London SW1A 2AA", "Royaume-Uni"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", source=S)
gb(["Oliver Smith", "10 Downing Street", "London SW1A 2AA", "Storbritannien"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", source=S)
eu(["Anna Gruber", "Stephansplatz 1", "1010 Wien", "Autriche"], "Anna Gruber", "Stephansplatz 1", "Wien", "1010", "AT", source=S)
eu(["Luca Rossi", "Bahnhofstrasse 1", "8001 Zürich", "Svizzera"], "Luca Rossi", "Bahnhofstrasse 1", "Zürich", "8001", "CH", source=S)
eu(["Luc Peeters", "Rue Neuve 1", "1000 Bruxelles", "Belgien"], "Luc Peeters", "Rue Neuve 1", "Bruxelles", "1000", "BE", source=S)
eu(["Ana García", "Calle Mayor 1", "28013 Madrid", "Espagne"], "Ana García", "Calle Mayor 1", "Madrid", "28013", "ES", source=S)
eu(["Claire Dubois", "12 rue de Rivoli", "75001 Paris", "Frankrijk"], "Claire Dubois", "12 rue de Rivoli", "Paris", "75001", "FR", source=S)
eu(["Jan de Vries", "Damrak 1", "1012 AB Amsterdam", "Pays-Bas"], "Jan de Vries", "Damrak 1", "Amsterdam", "1012 AB", "NL", source=S)
eu(["Aroha Ngata", "1 Queen Street", "Auckland 1010", "Nouvelle-Zélande"], "Aroha Ngata", "1 Queen Street", "Auckland", "1010", "NZ", source=S)
eu(["Nagy Anna", "Váci utca 1", "1052 Budapest", "Magyarország"], "Nagy Anna", "Váci utca 1", "Budapest", "1052", "HU", source=S)
ca(["Emma Tremblay", "290 Bremner Blvd", "Toronto ON M5V 3L9", "Kanada"], "Emma Tremblay", "290 Bremner Blvd", "Toronto", "ON", "M5V 3L9", source=S)
au(["Jack Wilson", "1 Macquarie St", "Sydney NSW 2000", "Australien"], "Jack Wilson", "1 Macquarie St", "Sydney", "NSW", "2000", source=S)
S = "issue 13: a country line that repeats the country's code after (or before) its name"
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin", "Germany DE"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", source=S)
ca(["Emma Tremblay", "290 Bremner Blvd", "Toronto ON M5V 3L9", "Canada (CA)"], "Emma Tremblay", "290 Bremner Blvd", "Toronto", "ON", "M5V 3L9", source=S)
au(["Jack Wilson", "1 Macquarie St", "Sydney NSW 2000", "Australia - AU"], "Jack Wilson", "1 Macquarie St", "Sydney", "NSW", "2000", source=S)
eu(["Hans Müller", "Hauptstraße 5", "10115 Berlin", "DE - Deutschland"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", source=S)
gb(["Oliver Smith", "10 Downing Street", "London SW1A 2AA", "United Kingdom (GB)"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 62704", "USA (US)"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
eu(["Claire Dubois", "12 rue de Rivoli", "75001 Paris", "France, FR"], "Claire Dubois", "12 rue de Rivoli", "Paris", "75001", "FR", source=S)
eu(["Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku, Tokyo 100-0001", "Japan [JP]"], "Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku", "100-0001", "JP", state="Tokyo", source=S)

# ---------------------------------------------------------------- invisible characters
S = "issue 13: control and invisible characters pasted into a line (NUL, zero-width space, BOM, ...)"
us(["Jane\u0000 Roe", "12 Oak\u200b Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["\ufeffJane Roe", "12 Oak Ave", "Spring\u200bfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL 627\u200b04"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe\u200e", "12 Oak\u00ad Ave", "Springfield,\u2060 IL 62704\u0000"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave\u001b", "Springfield, IL 62704", "USA\u200b"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak\u000bAve", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S + " (a vertical tab is a space)")
eu(["Hans Müller", "Haupt\u00adstraße 5", "10115\u200b Berlin", "\ufeffGermany"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", source=S)
us(["\u200b", "Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S + "; a line of only invisible characters is blank")
ok(None, name="Jane Roe", s1="12 Oak Ave", city="Springfield", state="IL", zip="62704", country="US", customer={"display_name": "Jane Roe"}, shipaddr={"Line1": "12 Oak Ave\u0000", "City": "Spring\u200bfield", "CountrySubDivisionCode": "\ufeffIL", "PostalCode": "62704\u200b"}, source=S + " (structured)")

# ---------------------------------------------------------------- names of symbols
S = "issue 13: a recipient typed as emoji or other symbols only"
us(["🎉🎉🎉", "12 Oak Ave", "Springfield, IL 62704"], "🎉🎉🎉", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["👨\u200d👩\u200d👧", "12 Oak Ave", "Springfield, IL 62704"], "👨\u200d👩\u200d👧", "12 Oak Ave", "Springfield", "IL", "62704", source=S + " (a joined emoji sequence kept whole)")
us(["★彡", "12 Oak Ave", "Springfield, IL 62704"], "★彡", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["❤️", "Acme Corp", "12 Oak Ave", "Springfield, IL 62704"], "❤️", "12 Oak Ave", "Springfield", "IL", "62704", company="Acme Corp", source=S)
gb(["☺", "10 Downing Street", "London SW1A 2AA", "UK"], "☺", "10 Downing Street", "London", "SW1A 2AA", source=S)

# ---------------------------------------------------------------- postcodes with odd spacing
S = "issue 13: a postcode typed with spaces its format does not have"
au(["Jack Wilson", "12 Hay St", "Perth WA 6 0 0 4", "Australia"], "Jack Wilson", "12 Hay St", "Perth", "WA", "6004", source=S)
au(["Jack Wilson", "12 Hay St", "Perth WA 60 04"], "Jack Wilson", "12 Hay St", "Perth", "WA", "6004", source=S)
eu(["Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku, Tokyo 100 0001", "Japan"], "Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku", "100-0001", "JP", state="Tokyo", source=S)
us(["Jane Roe", "12 Oak Ave", "Beverly Hills, CA 9021 0"], "Jane Roe", "12 Oak Ave", "Beverly Hills", "CA", "90210", source=S)
us(["Jane Roe", "12 Oak Ave", "Beverly Hills, CA 9 0 2 1 0"], "Jane Roe", "12 Oak Ave", "Beverly Hills", "CA", "90210", source=S)
eu(["Hans Müller", "Hauptstraße 5", "1 0 1 1 5 Berlin", "Germany"], "Hans Müller", "Hauptstraße 5", "Berlin", "10115", "DE", source=S)
eu(["Claire Dubois", "12 rue de Rivoli", "75 001 Paris", "France"], "Claire Dubois", "12 rue de Rivoli", "Paris", "75001", "FR", source=S)
S = "issue 13: a postcode typed without the space its format has"
gb(["Oliver Smith", "10 Downing Street", "London SW1A2AA", "UK"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", source=S)
gb(["Oliver Smith", "10 Downing Street", "London SW1A2AA"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", source=S)
ca(["Emma Tremblay", "24 Sussex Dr", "Ottawa ON K1A0A2", "Canada"], "Emma Tremblay", "24 Sussex Dr", "Ottawa", "ON", "K1A 0A2", source=S)
ca(["Emma Tremblay", "24 Sussex Dr", "Ottawa ON K1A0A2"], "Emma Tremblay", "24 Sussex Dr", "Ottawa", "ON", "K1A 0A2", source=S)
eu(["Jan de Vries", "Damrak 1", "1012AB Amsterdam", "Netherlands"], "Jan de Vries", "Damrak 1", "Amsterdam", "1012 AB", "NL", source=S)
eu(["Erik Svensson", "Drottninggatan 1", "11151 Stockholm", "Sweden"], "Erik Svensson", "Drottninggatan 1", "Stockholm", "111 51", "SE", source=S)

# ---------------------------------------------------------------- city and state separators
S = "issue 13: a period or no punctuation where a comma separates city and state"
us(["Jane Roe", "12 Oak Ave", "Springfield. IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield.IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "St. Louis. MO 63101"], "Jane Roe", "12 Oak Ave", "St. Louis", "MO", "63101", source=S)
us(["Jane Roe", "12 Oak Ave", "New York NY 10001"], "Jane Roe", "12 Oak Ave", "New York", "NY", "10001", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield Illinois 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
ca(["Emma Tremblay", "290 Bremner Blvd", "Toronto. ON M5V 3L9"], "Emma Tremblay", "290 Bremner Blvd", "Toronto", "ON", "M5V 3L9", source=S)
au(["Jack Wilson", "1 Macquarie St", "Sydney. NSW 2000"], "Jack Wilson", "1 Macquarie St", "Sydney", "NSW", "2000", source=S)

# ---------------------------------------------------------------- city, state, ZIP on three lines
S = "design 2.2 / issue 13: city, state and ZIP typed on three lines of their own"
us(["12 Oak Ave", "Springfield", "IL", "62704"], None, "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["12 Oak Ave", "Springfield", "IL", "62704", "USA"], None, "12 Oak Ave", "Springfield", "IL", "62704", source=S + ", with a country line")
us(["12 Oak Ave", "Springfield", "Illinois", "62704-1234"], None, "12 Oak Ave", "Springfield", "IL", "62704-1234", source=S)
us(["12 Oak Ave", "Springfield,", "IL", "62704"], None, "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "12 Oak Ave", "Springfield, IL", "62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S + " (city and state, then ZIP)")
us(["Jane Roe", "12 Oak Ave", "Springfield", "IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S + " (city, then state and ZIP)")
us(["Jane Roe", "12 Oak Ave", "Springfield 62704", "IL"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S + " (city and ZIP, then state)")
ca(["290 Bremner Blvd", "Toronto", "ON", "M5V 3L9", "Canada"], None, "290 Bremner Blvd", "Toronto", "ON", "M5V 3L9", source=S)
au(["1 Macquarie St", "Sydney", "NSW", "2000", "Australia"], None, "1 Macquarie St", "Sydney", "NSW", "2000", source=S)
au(["1 Macquarie St", "Sydney", "NSW", "2000"], None, "1 Macquarie St", "Sydney", "NSW", "2000", source=S)

# ---------------------------------------------------------------- c/o and Attn: lines
S = "issue 13: c/o and Attn: lines in every position"
us(["Acme Corp", "Attn: Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="Acme Corp", source=S)
us(["Attn: Jane Roe", "Acme Corp", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="Acme Corp", source=S)
us(["Acme Corp", "12 Oak Ave", "Attn: Jane Roe", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="Acme Corp", source=S)
us(["Acme Corp", "12 Oak Ave", "Suite 5", "ATTN Receiving", "Springfield, IL 62704"], "Receiving", "12 Oak Ave", "Springfield", "IL", "62704", company="Acme Corp", s2="Suite 5", source=S)
us(["ATTENTION: Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Attn:Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", source=S)
us(["Jane Roe", "c/o Acme Corp", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="c/o Acme Corp", source=S)
us(["Jane Roe", "12 Oak Ave", "c/o Acme Corp", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="c/o Acme Corp", source=S)
us(["Jane Roe", "C/O: Bob Smith", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="C/O: Bob Smith", source=S)
us(["Jane Roe", "Acme Corp", "c/o Bob Smith", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="Acme Corp, c/o Bob Smith", source=S)
us(["Jane Roe", "In care of Bob Smith", "12 Oak Ave", "Springfield, IL 62704"], "Jane Roe", "12 Oak Ave", "Springfield", "IL", "62704", company="In care of Bob Smith", source=S)
au(["Jack Wilson", "C/- Mary Brown", "1 Macquarie St", "Sydney NSW 2000"], "Jack Wilson", "1 Macquarie St", "Sydney", "NSW", "2000", company="C/- Mary Brown", source=S + " (Australian c/-)")
gb(["Acme Ltd", "FAO Oliver Smith", "10 Downing Street", "London SW1A 2AA"], "Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", company="Acme Ltd", source=S + " (British FAO)")

# ---------------------------------------------------------------- Puerto Rico urbanizations
S = "USPS Publication 28, 29: a Puerto Rico urbanization is a second street line (issue 13)"
us(["Juan Pérez", "Urb Villa Carolina", "123 Calle 5", "Carolina, PR 00985"], "Juan Pérez", "123 Calle 5", "Carolina", "PR", "00985", s2="Urb Villa Carolina", source=S)
us(["Juan Pérez", "123 Calle 5", "Urb Villa Carolina", "Carolina, PR 00985"], "Juan Pérez", "123 Calle 5", "Carolina", "PR", "00985", s2="Urb Villa Carolina", source=S)
us(["Juan Pérez", "URB. LAS LOMAS", "1234 CALLE 1", "SAN JUAN PR 00921"], "Juan Pérez", "1234 CALLE 1", "SAN JUAN", "PR", "00921", s2="URB. LAS LOMAS", source=S)
us(["Juan Pérez", "URB LAS LOMAS", "1234 CALLE 1", "SAN JUAN PR 00921", "Puerto Rico"], "Juan Pérez", "1234 CALLE 1", "SAN JUAN", "PR", "00921", s2="URB LAS LOMAS", source=S)
us(["Juan Pérez", "123 Calle 5", "Apt 2", "Urb Villa Carolina", "Carolina PR 00985"], "Juan Pérez", "123 Calle 5", "Carolina", "PR", "00985", s2="Apt 2, Urb Villa Carolina", source=S)
us(["Juan Pérez", "Urbanización Las Lomas", "1234 Calle 1", "San Juan, Puerto Rico 00921"], "Juan Pérez", "1234 Calle 1", "San Juan", "PR", "00921", s2="Urbanización Las Lomas", source=S)
us(["Juan Pérez", "Urb Villa Carolina", "Carolina PR 00985"], "Juan Pérez", "Urb Villa Carolina", "Carolina", "PR", "00985", source=S + "; the urbanization is the only street line")

# ---------------------------------------------------------------- company names with digits
S = "issue 13: a company name that begins with digits on the line above the street"
us(["Jane Roe", "1-800-FLOWERS", "1 Old Country Rd", "Carle Place, NY 11514"], "Jane Roe", "1 Old Country Rd", "Carle Place", "NY", "11514", company="1-800-FLOWERS", source=S)
us(["Jane Roe", "3M Company", "3M Center", "St. Paul, MN 55144"], "Jane Roe", "3M Center", "St. Paul", "MN", "55144", company="3M Company", source=S)
us(["Jane Roe", "3M", "2501 Hudson Rd", "Maplewood, MN 55144"], "Jane Roe", "2501 Hudson Rd", "Maplewood", "MN", "55144", company="3M", source=S)
us(["Jane Roe", "7-Eleven Store #123", "500 Main St", "Dallas, TX 75201"], "Jane Roe", "500 Main St", "Dallas", "TX", "75201", company="7-Eleven Store #123", source=S)
us(["Jane Roe", "24 Hour Fitness", "12 Main St", "Dallas, TX 75201"], "Jane Roe", "12 Main St", "Dallas", "TX", "75201", company="24 Hour Fitness", source=S)
us(["Jane Roe", "99 Cents Only Stores", "4000 Union Pacific Ave", "Commerce, CA 90023"], "Jane Roe", "4000 Union Pacific Ave", "Commerce", "CA", "90023", company="99 Cents Only Stores", source=S)
us(["1-800-FLOWERS", "1 Old Country Rd", "Carle Place, NY 11514"], "1-800-FLOWERS", "1 Old Country Rd", "Carle Place", "NY", "11514", source=S + "; alone above the street it is the recipient line")
us(["Jane Roe", "2nd Floor", "12 Main St", "Dallas, TX 75201"], "Jane Roe", "2nd Floor", "Dallas", "TX", "75201", s2="12 Main St", source="issue 13: a numbered floor above the street stays a street line")
