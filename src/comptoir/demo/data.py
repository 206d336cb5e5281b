"""Reference data for the demo: real French cities and postcodes, names, NAF codes, catalogue.

Plain tuples, no Django: the generator draws from them with a seeded ``random.Random`` so a
seed always gives the same data set.
"""

from __future__ import annotations

from decimal import Decimal

# (city, postcode, phone zone digit: 1 Île-de-France, 2 North-West, 3 North-East,
#  4 South-East, 5 South-West). Weights favour the big business areas.
CITIES: tuple[tuple[str, str, str, int], ...] = (
    # Île-de-France
    ("Paris", "75001", "1", 4), ("Paris", "75002", "1", 4), ("Paris", "75008", "1", 8),
    ("Paris", "75009", "1", 5), ("Paris", "75010", "1", 3), ("Paris", "75011", "1", 4),
    ("Paris", "75012", "1", 3), ("Paris", "75013", "1", 3), ("Paris", "75015", "1", 4),
    ("Paris", "75016", "1", 3), ("Paris", "75017", "1", 4), ("Paris", "75019", "1", 2),
    ("Boulogne-Billancourt", "92100", "1", 4), ("Nanterre", "92000", "1", 3),
    ("Courbevoie", "92400", "1", 3), ("Issy-les-Moulineaux", "92130", "1", 3),
    ("Levallois-Perret", "92300", "1", 3), ("Neuilly-sur-Seine", "92200", "1", 2),
    ("Rueil-Malmaison", "92500", "1", 2), ("Montrouge", "92120", "1", 2),
    ("Montreuil", "93100", "1", 2), ("Saint-Denis", "93200", "1", 3),
    ("Aubervilliers", "93300", "1", 2), ("Bobigny", "93000", "1", 1),
    ("Créteil", "94000", "1", 2), ("Vincennes", "94300", "1", 2),
    ("Ivry-sur-Seine", "94200", "1", 2), ("Rungis", "94150", "1", 2),
    ("Versailles", "78000", "1", 2), ("Saint-Germain-en-Laye", "78100", "1", 1),
    ("Guyancourt", "78280", "1", 2), ("Massy", "91300", "1", 2),
    ("Évry-Courcouronnes", "91000", "1", 1), ("Les Ulis", "91940", "1", 2),
    ("Cergy", "95000", "1", 2), ("Argenteuil", "95100", "1", 1),
    ("Roissy-en-France", "95700", "1", 1), ("Meaux", "77100", "1", 1),
    ("Melun", "77000", "1", 1), ("Serris", "77700", "1", 1),
    # Hauts-de-France
    ("Lille", "59000", "3", 5), ("Roubaix", "59100", "3", 2), ("Tourcoing", "59200", "3", 2),
    ("Villeneuve-d'Ascq", "59650", "3", 2), ("Dunkerque", "59140", "3", 2),
    ("Valenciennes", "59300", "3", 1), ("Arras", "62000", "3", 1), ("Lens", "62300", "3", 1),
    ("Calais", "62100", "3", 1), ("Amiens", "80000", "3", 2), ("Beauvais", "60000", "3", 1),
    ("Compiègne", "60200", "3", 1), ("Saint-Quentin", "02100", "3", 1),
    # Grand Est
    ("Strasbourg", "67000", "3", 4), ("Mulhouse", "68100", "3", 2), ("Colmar", "68000", "3", 1),
    ("Metz", "57000", "3", 2), ("Nancy", "54000", "3", 2), ("Reims", "51100", "3", 2),
    ("Troyes", "10000", "3", 1), ("Épinal", "88000", "3", 1),
    # Normandie
    ("Rouen", "76000", "2", 3), ("Le Havre", "76600", "2", 2), ("Caen", "14000", "2", 2),
    ("Évreux", "27000", "2", 1), ("Cherbourg-en-Cotentin", "50100", "2", 1),
    # Bretagne, Pays de la Loire
    ("Rennes", "35000", "2", 4), ("Brest", "29200", "2", 2), ("Quimper", "29000", "2", 1),
    ("Lorient", "56100", "2", 1), ("Vannes", "56000", "2", 1), ("Saint-Brieuc", "22000", "2", 1),
    ("Nantes", "44000", "2", 5), ("Saint-Nazaire", "44600", "2", 2),
    ("Saint-Herblain", "44800", "2", 1), ("Angers", "49000", "2", 2),
    ("Cholet", "49300", "2", 1), ("Le Mans", "72000", "2", 2), ("Laval", "53000", "2", 1),
    ("La Roche-sur-Yon", "85000", "2", 1),
    # Centre-Val de Loire
    ("Orléans", "45000", "2", 2), ("Tours", "37000", "2", 2), ("Chartres", "28000", "2", 1),
    ("Bourges", "18000", "2", 1), ("Blois", "41000", "2", 1),
    # Auvergne-Rhône-Alpes
    ("Lyon", "69002", "4", 4), ("Lyon", "69003", "4", 4), ("Lyon", "69007", "4", 3),
    ("Lyon", "69009", "4", 2), ("Villeurbanne", "69100", "4", 3), ("Vénissieux", "69200", "4", 1),
    ("Bron", "69500", "4", 1), ("Bourg-en-Bresse", "01000", "4", 1),
    ("Grenoble", "38000", "4", 3), ("Meylan", "38240", "4", 1),
    ("Saint-Étienne", "42000", "4", 2), ("Roanne", "42300", "4", 1),
    ("Chambéry", "73000", "4", 1), ("Annecy", "74000", "4", 2), ("Annemasse", "74100", "4", 1),
    ("Clermont-Ferrand", "63000", "4", 2), ("Valence", "26000", "4", 1),
    # Bourgogne-Franche-Comté
    ("Dijon", "21000", "3", 2), ("Besançon", "25000", "3", 2), ("Belfort", "90000", "3", 1),
    ("Chalon-sur-Saône", "71100", "3", 1), ("Auxerre", "89000", "3", 1),
    # Provence-Alpes-Côte d'Azur
    ("Marseille", "13001", "4", 2), ("Marseille", "13002", "4", 2), ("Marseille", "13008", "4", 2),
    ("Marseille", "13010", "4", 1), ("Aix-en-Provence", "13090", "4", 2),
    ("Aix-en-Provence", "13100", "4", 1), ("Vitrolles", "13127", "4", 1),
    ("Nice", "06000", "4", 3), ("Cannes", "06400", "4", 1), ("Antibes", "06600", "4", 1),
    ("Toulon", "83000", "4", 2), ("Avignon", "84000", "4", 1),
    # Occitanie
    ("Toulouse", "31000", "5", 4), ("Toulouse", "31400", "5", 2), ("Blagnac", "31700", "5", 2),
    ("Colomiers", "31770", "5", 1), ("Montpellier", "34000", "4", 3),
    ("Béziers", "34500", "4", 1), ("Nîmes", "30000", "4", 2), ("Perpignan", "66000", "4", 1),
    ("Albi", "81000", "5", 1), ("Tarbes", "65000", "5", 1),
    # Nouvelle-Aquitaine
    ("Bordeaux", "33000", "5", 4), ("Bordeaux", "33300", "5", 2), ("Mérignac", "33700", "5", 2),
    ("Pessac", "33600", "5", 1), ("Limoges", "87000", "5", 2), ("Poitiers", "86000", "5", 1),
    ("La Rochelle", "17000", "5", 1), ("Niort", "79000", "5", 1), ("Pau", "64000", "5", 1),
    ("Bayonne", "64100", "5", 1), ("Angoulême", "16000", "5", 1), ("Périgueux", "24000", "5", 1),
    ("Mont-de-Marsan", "40000", "5", 1), ("Agen", "47000", "5", 1),
    # Corse: no territory covers it, so these accounts show up as unassigned.
    ("Ajaccio", "20000", "4", 1), ("Bastia", "20200", "4", 1),
)

# Business-area label by first two postcode digits, used in some company names.
AREA_BY_DEPT: dict[str, str] = {
    **dict.fromkeys(("75", "77", "78", "91", "92", "93", "94", "95"), "Île-de-France"),
    **dict.fromkeys(("02", "59", "60", "62", "80"), "Nord"),
    **dict.fromkeys(("10", "51", "54", "57", "67", "68", "88"), "Est"),
    **dict.fromkeys(("14", "27", "50", "76"), "Normandie"),
    **dict.fromkeys(("22", "29", "35", "56"), "Bretagne"),
    **dict.fromkeys(("44", "49", "53", "72", "85"), "Atlantique"),
    **dict.fromkeys(("18", "28", "37", "41", "45"), "Centre"),
    **dict.fromkeys(("01", "26", "38", "42", "63", "69", "73", "74"), "Rhône-Alpes"),
    **dict.fromkeys(("21", "25", "71", "89", "90"), "Bourgogne"),
    **dict.fromkeys(("06", "13", "83", "84"), "Méditerranée"),
    **dict.fromkeys(("30", "31", "34", "65", "66", "81"), "Occitanie"),
    **dict.fromkeys(("16", "17", "24", "33", "40", "47", "64", "79", "86", "87"), "Aquitaine"),
    "20": "Corse",
}

STREETS: tuple[str, ...] = (
    "rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta",
    "rue du Général de Gaulle", "avenue de la Libération", "rue Pasteur", "rue Nationale",
    "rue de la Gare", "avenue des Champs", "rue du Moulin", "rue de l'Industrie", "rue Ampère",
    "avenue Marcel Dassault", "rue Gustave Eiffel", "rue Denis Papin", "rue des Artisans",
    "boulevard Voltaire", "rue de Verdun", "avenue Foch", "rue Émile Zola", "rue Jules Ferry",
    "allée des Érables", "chemin des Vignes", "impasse des Tilleuls", "rue du Commerce",
    "avenue de l'Europe", "rue Louis Blériot", "rue Henri Becquerel", "rue des Entrepreneurs",
    "rue Lavoisier", "quai de la Loire", "cours Lafayette", "rue Saint-Exupéry",
    "avenue du Maréchal Leclerc", "rue Condorcet", "rue Marie Curie", "rue de Paris",
    "rue du Stade", "route de Lyon", "rue des Frères Lumière", "boulevard de la Croix Rousse",
)
BUSINESS_PARKS: tuple[str, ...] = (
    "ZI des Grands Champs", "ZA du Moulin", "Parc d'activités des Portes", "ZAC de la Plaine",
    "Technopôle", "Parc Technologique", "ZI Nord", "ZI Sud", "Zone portuaire",
)

MALE_FIRST_NAMES: tuple[str, ...] = (
    "Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Christophe", "Patrick",
    "Frédéric", "Laurent", "Stéphane", "David", "Éric", "Olivier", "Sébastien", "Julien",
    "Thomas", "Antoine", "Guillaume", "Maxime", "Alexandre", "Romain", "Mathieu", "Vincent",
    "François", "Jérôme", "Benoît", "Damien", "Hugo", "Lucas", "Louis", "Arthur", "Paul",
    "Quentin", "Théo", "Karim", "Mehdi", "Yacine", "Samir", "Thierry", "Bruno", "Didier",
    "Gilles", "Pascal", "Yannick", "Cédric", "Fabrice", "Xavier", "Arnaud", "Benjamin",
)
FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Sophie", "Valérie", "Christine",
    "Sandrine", "Céline", "Stéphanie", "Aurélie", "Julie", "Émilie", "Camille", "Claire",
    "Laure", "Caroline", "Anne", "Hélène", "Virginie", "Audrey", "Élodie", "Pauline", "Léa",
    "Manon", "Chloé", "Sarah", "Inès", "Nadia", "Fatima", "Amina", "Karine", "Delphine",
    "Agnès", "Florence", "Martine", "Véronique", "Laetitia", "Charlotte", "Lucie", "Margaux",
    "Mathilde", "Alice", "Juliette", "Clémence", "Océane", "Anaïs", "Mélanie", "Cécile",
)
LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
    "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier",
    "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin",
    "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas",
    "Lacroix", "Olivier", "Philippe", "Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc",
    "Payet", "Rolland", "Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy",
    "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin", "Louis",
    "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer", "Klein", "Jacquet",
    "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Charles", "Renault",
    "Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé", "Schneider",
    "Fernandez", "Le Gall", "Collet", "Léger", "Bouvier", "Julien", "Prévost", "Millet",
    "Perrot", "Daniel", "Le Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois",
    "Rémy", "Le Goff", "Pelletier", "Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun",
    "Marchal", "Weber", "Mallet", "Hamon", "Boulanger", "Jacob", "Monnier", "Michaud",
    "Rodriguez", "Guichard", "Gillet", "Étienne", "Grondin", "Poulain", "Tessier", "Chevallier",
    "Collin", "Chauvin", "Da Silva", "Bouchet", "Gay", "Lemaître", "Bénard", "Maréchal",
    "Gosselin", "Laine", "Haddad", "Benali", "N'Diaye", "Nguyen", "Diallo", "Traoré",
    "Ferreira", "Dos Santos", "Kaya", "Cohen",
)

# Job titles (masculine, feminine) as written on French business cards.
JOB_TITLES: tuple[tuple[str, str], ...] = (
    ("Directeur général", "Directrice générale"), ("Gérant", "Gérante"),
    ("Président", "Présidente"), ("Directeur administratif et financier",
                                  "Directrice administrative et financière"),
    ("Responsable achats", "Responsable achats"), ("Acheteur", "Acheteuse"),
    ("Directeur technique", "Directrice technique"), ("Responsable maintenance",
                                                      "Responsable maintenance"),
    ("Responsable de production", "Responsable de production"),
    ("Directeur d'usine", "Directrice d'usine"), ("Responsable QHSE", "Responsable QHSE"),
    ("Chef d'atelier", "Cheffe d'atelier"), ("Responsable logistique", "Responsable logistique"),
    ("Comptable", "Comptable"), ("Assistant de direction", "Assistante de direction"),
    ("Responsable des services généraux", "Responsable des services généraux"),
    ("Directeur commercial", "Directrice commerciale"), ("DSI", "DSI"),
    ("Chef de projet", "Cheffe de projet"), ("Office manager", "Office manager"),
)

# (NAF code, words that suit a company name in that trade)
NAF_CODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("62.01Z", ("Informatique", "Logiciels", "Digital")),
    ("62.02A", ("Conseil Informatique", "Systèmes")),
    ("63.11Z", ("Data", "Hébergement")),
    ("70.22Z", ("Conseil", "Stratégie")),
    ("69.20Z", ("Expertise Comptable", "Audit")),
    ("71.12B", ("Ingénierie", "Études Techniques")),
    ("73.11Z", ("Communication", "Publicité")),
    ("41.20A", ("Construction", "Habitat")),
    ("43.21A", ("Électricité", "Électricité Générale")),
    ("43.22A", ("Plomberie", "Chauffage")),
    ("43.32A", ("Menuiserie", "Agencement")),
    ("25.62B", ("Mécanique", "Usinage")),
    ("28.29B", ("Machines", "Équipements")),
    ("22.29A", ("Plasturgie", "Plastiques")),
    ("10.13A", ("Salaisons", "Charcuterie")),
    ("46.69B", ("Fournitures Industrielles", "Équipement Industriel")),
    ("46.73A", ("Matériaux", "Négoce Bois")),
    ("46.90Z", ("Distribution", "Négoce")),
    ("46.51Z", ("Micro", "Bureautique")),
    ("49.41A", ("Transports", "Fret")),
    ("52.29B", ("Logistique", "Transit")),
    ("52.10B", ("Entrepôts", "Stockage")),
    ("45.20A", ("Garage", "Auto Service")),
    ("56.10A", ("Restauration", "Brasserie")),
    ("55.10Z", ("Hôtellerie", "Hôtels")),
    ("68.20B", ("Immobilier", "Patrimoine")),
    ("81.21Z", ("Propreté", "Nettoyage")),
    ("80.10Z", ("Sécurité", "Gardiennage")),
    ("85.59A", ("Formation", "Compétences")),
    ("33.12Z", ("Maintenance", "Services Industriels")),
    ("38.11Z", ("Environnement", "Recyclage")),
    ("20.59Z", ("Chimie", "Solutions Chimiques")),
    ("26.11Z", ("Électronique", "Composants")),
    ("27.12Z", ("Électrotechnique", "Automatismes")),
    ("31.01Z", ("Mobilier", "Aménagement")),
    ("18.12Z", ("Imprimerie", "Arts Graphiques")),
    ("78.20Z", ("Intérim", "Emploi")),
    ("77.32Z", ("Location", "Levage")),
    ("16.10A", ("Scierie", "Bois")),
)

BRAND_PREFIXES: tuple[str, ...] = (
    "Alti", "Nova", "Tech", "Euro", "Inter", "Proxi", "Bati", "Agri", "Logi", "Info", "Medi",
    "Ener", "Hydro", "Aqua", "Sud", "Atlan", "Alp", "Oc", "Arm", "Vita", "Opti", "Axi", "Cap",
    "Omni", "Terra", "Ter", "Méca", "Élec", "Clim", "Indus",
)
BRAND_SUFFIXES: tuple[str, ...] = (
    "tec", "via", "lia", "sys", "nov", "tis", "com", "pro", "dis", "flex", "line", "plast",
    "ria", "vo", "go", "mat", "concept", "service", "industrie", "up",
)

# (legal form, weight)
LEGAL_FORMS: tuple[tuple[str, int], ...] = (
    ("SAS", 45), ("SARL", 28), ("SASU", 10), ("SA", 8), ("EURL", 6), ("SCOP", 3),
)

# (INSEE headcount band, weight): many small firms, few large ones.
HEADCOUNT_BANDS: tuple[tuple[str, int], ...] = (
    ("NN", 20), ("00", 30), ("01", 80), ("02", 110), ("03", 120), ("11", 150), ("12", 170),
    ("21", 100), ("22", 70), ("31", 30), ("32", 30), ("41", 18), ("42", 9), ("51", 6),
    ("52", 3), ("53", 1),
)
KEY_ACCOUNT_BANDS = frozenset({"41", "42", "51", "52", "53"})
CREDIT_LIMIT_BY_BAND: dict[str, int] = {
    "NN": 5_000, "00": 2_000, "01": 3_000, "02": 5_000, "03": 8_000, "11": 10_000,
    "12": 20_000, "21": 30_000, "22": 50_000, "31": 75_000, "32": 100_000, "41": 150_000,
    "42": 250_000, "51": 400_000, "52": 500_000, "53": 1_000_000,
}

FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "outlook.fr", "sfr.fr",
)

# Catalogue: (code, name, unit, VAT rate, list price)
PRODUCTS: tuple[tuple[str, str, str, Decimal, Decimal], ...] = (
    ("EPI-GANT-NIT", "Gants nitrile, boîte de 100", "package", Decimal("20"), Decimal("9.90")),
    ("EPI-CASQ", "Casque de chantier", "unit", Decimal("20"), Decimal("14.50")),
    ("EPI-CHAUS-S3", "Chaussures de sécurité S3", "unit", Decimal("20"), Decimal("69.00")),
    ("EPI-LUN", "Lunettes de protection", "unit", Decimal("20"), Decimal("7.80")),
    ("OUT-PERC-18V", "Perceuse-visseuse 18 V", "unit", Decimal("20"), Decimal("189.00")),
    ("OUT-MEUL-125", "Meuleuse d'angle 125 mm", "unit", Decimal("20"), Decimal("129.00")),
    ("CONS-DISQ-125", "Disques à tronçonner 125 mm, lot de 25", "package", Decimal("20"),
     Decimal("42.00")),
    ("CONS-HUILE", "Huile de coupe soluble", "l", Decimal("20"), Decimal("8.40")),
    ("CONS-CABLE-R2V", "Câble R2V 3G2,5", "m", Decimal("20"), Decimal("1.85")),
    ("CONS-ACIER", "Acier S235 en barre", "kg", Decimal("20"), Decimal("2.30")),
    ("MAT-ETABLI", "Établi d'atelier 2 m", "unit", Decimal("20"), Decimal("649.00")),
    ("MAT-RAYON", "Rayonnage métallique 5 niveaux", "unit", Decimal("20"), Decimal("279.00")),
    ("MAT-TRANSP", "Transpalette manuel 2,5 t", "unit", Decimal("20"), Decimal("389.00")),
    ("SRV-INSTAL", "Installation sur site", "hour", Decimal("20"), Decimal("75.00")),
    ("SRV-MAINT-J", "Journée de maintenance préventive", "day", Decimal("20"),
     Decimal("680.00")),
    ("SRV-AUDIT", "Audit sécurité atelier", "day", Decimal("20"), Decimal("950.00")),
    ("SRV-FORM-J", "Formation sécurité, journée", "day", Decimal("20"), Decimal("1200.00")),
    ("SRV-DEPL", "Forfait déplacement", "unit", Decimal("20"), Decimal("45.00")),
    ("ABO-MAINT", "Contrat de maintenance", "month", Decimal("20"), Decimal("249.00")),
    ("ABO-GMAO", "Abonnement logiciel GMAO, par utilisateur", "month", Decimal("20"),
     Decimal("39.00")),
    ("ABO-TELESURV", "Télésurveillance des équipements", "month", Decimal("20"),
     Decimal("89.00")),
    ("REST-PLATEAU", "Plateau-repas séminaire", "unit", Decimal("10"), Decimal("18.50")),
    ("REST-PAUSE", "Pause café séminaire", "unit", Decimal("10"), Decimal("6.00")),
    ("LIV-NORMES", "Recueil des normes de sécurité (ouvrage)", "unit", Decimal("5.5"),
     Decimal("48.00")),
    ("LIV-GUIDE", "Guide pratique de la maintenance (ouvrage)", "unit", Decimal("5.5"),
     Decimal("32.00")),
)
# Typical quantity range per unit, for document lines.
QUANTITY_RANGE: dict[str, tuple[int, int]] = {
    "unit": (1, 20), "package": (2, 60), "l": (20, 200), "m": (50, 500), "kg": (100, 2000),
    "hour": (4, 40), "day": (1, 10), "month": (12, 12),
}

OPPORTUNITY_TOPICS: tuple[str, ...] = (
    "Équipement atelier", "Contrat de maintenance", "Renouvellement EPI", "Audit sécurité",
    "Formation des équipes", "Déploiement GMAO", "Aménagement entrepôt",
    "Télésurveillance", "Consommables annuels", "Extension site", "Mise en conformité",
    "Outillage électroportatif",
)
LOST_REASONS: tuple[str, ...] = (
    "Prix trop élevé", "Concurrent retenu", "Projet abandonné", "Pas de budget cette année",
    "Délai de livraison", "Pas de réponse du client",
)

CALL_SUBJECTS: tuple[str, ...] = (
    "Appel de découverte", "Relance devis", "Point d'avancement", "Appel de courtoisie",
    "Prise de rendez-vous", "Suivi de commande", "Rappel suite demande",
)
MEETING_SUBJECTS: tuple[str, ...] = (
    "Rendez-vous de présentation", "Démonstration sur site", "Visite d'atelier",
    "Réunion de lancement", "Revue annuelle du compte", "Négociation commerciale",
)
TASK_SUBJECTS: tuple[str, ...] = (
    "Envoyer la proposition", "Préparer le devis", "Relancer pour signature",
    "Mettre à jour les coordonnées", "Envoyer la documentation", "Planifier la formation",
    "Vérifier l'encours client",
)
NOTE_SUBJECTS: tuple[str, ...] = (
    "Compte rendu de visite", "Organisation des achats", "Concurrence en place",
    "Budget prévisionnel", "Informations décisionnaires",
)
EMAIL_SUBJECTS: tuple[str, ...] = (
    "Votre demande de devis", "Documentation technique", "Confirmation de rendez-vous",
    "Proposition commerciale", "Conditions de paiement",
)
CASE_SUBJECTS: dict[str, tuple[str, ...]] = {
    "complaint": ("Livraison incomplète", "Produit endommagé à la réception",
                  "Erreur de facturation", "Retard de livraison", "Intervention non conforme"),
    "support": ("Panne transpalette", "Problème de connexion GMAO", "Demande d'intervention",
                "Pièce détachée à remplacer", "Paramétrage des alertes"),
    "question": ("Délai de livraison", "Fiche de données de sécurité",
                 "Duplicata de facture", "Conditions de garantie", "Modalités de formation"),
}
LEAD_DESCRIPTIONS: dict[str, str] = {
    "web_form": "Demande de devis via le formulaire de contact du site.",
    "newsletter": "Inscription à la lettre d'information mensuelle.",
    "pdf_download": "Téléchargement du livre blanc « Réussir sa maintenance préventive ».",
    "web_visit": "Visites répétées des pages tarifs et contrats de maintenance.",
    "purchased_list": "Fichier d'entreprises industrielles acheté (campagne régionale).",
    "partner_portal": "Opportunité transmise par un partenaire installateur.",
    "trade_show": "Rencontré sur le stand au salon Global Industrie.",
    "referral": "Recommandé par un client existant.",
    "other": "Contact entrant par téléphone au standard.",
}
CONSENT_SOURCES: tuple[str, ...] = (
    "Formulaire web", "Salon professionnel", "Signature du contrat", "Appel téléphonique",
    "Lettre d'information",
)
