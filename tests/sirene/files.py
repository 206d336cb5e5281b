"""Small SIRENE stock files in the official format, written by the tests themselves.

Headers are the official ones, in the official order (StockUniteLegale and StockEtablissement,
schema of 2024): every column is present, most left empty, as in the real files. Values are
comma-separated, quoted only when they must be (a comma in a name), as INSEE writes them.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from comptoir.quality.identifiers import siren_with_check_digit, siret_with_check_digit

UNIT_HEADER = [
    "siren", "statutDiffusionUniteLegale", "unitePurgeeUniteLegale", "dateCreationUniteLegale",
    "sigleUniteLegale", "sexeUniteLegale", "prenom1UniteLegale", "prenom2UniteLegale",
    "prenom3UniteLegale", "prenom4UniteLegale", "prenomUsuelUniteLegale",
    "pseudonymeUniteLegale", "identifiantAssociationUniteLegale", "trancheEffectifsUniteLegale",
    "anneeEffectifsUniteLegale", "dateDernierTraitementUniteLegale", "nombrePeriodesUniteLegale",
    "categorieEntreprise", "anneeCategorieEntreprise", "dateDebut",
    "etatAdministratifUniteLegale", "nomUniteLegale", "nomUsageUniteLegale",
    "denominationUniteLegale", "denominationUsuelle1UniteLegale",
    "denominationUsuelle2UniteLegale", "denominationUsuelle3UniteLegale",
    "categorieJuridiqueUniteLegale", "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale", "nicSiegeUniteLegale",
    "economieSocialeSolidaireUniteLegale", "societeMissionUniteLegale",
    "caractereEmployeurUniteLegale",
]
ESTABLISHMENT_HEADER = [
    "siren", "nic", "siret", "statutDiffusionEtablissement", "dateCreationEtablissement",
    "trancheEffectifsEtablissement", "anneeEffectifsEtablissement",
    "activitePrincipaleRegistreMetiersEtablissement", "dateDernierTraitementEtablissement",
    "etablissementSiege", "nombrePeriodesEtablissement", "complementAdresseEtablissement",
    "numeroVoieEtablissement", "indiceRepetitionEtablissement",
    "dernierNumeroVoieEtablissement", "indiceRepetitionDernierNumeroVoieEtablissement",
    "typeVoieEtablissement", "libelleVoieEtablissement", "codePostalEtablissement",
    "libelleCommuneEtablissement", "libelleCommuneEtrangerEtablissement",
    "distributionSpecialeEtablissement", "codeCommuneEtablissement", "codeCedexEtablissement",
    "libelleCedexEtablissement", "codePaysEtrangerEtablissement",
    "libellePaysEtrangerEtablissement", "identifiantAdresseEtablissement",
    "coordonneeLambertAbscisseEtablissement", "coordonneeLambertOrdonneeEtablissement",
    "complementAdresse2Etablissement", "numeroVoie2Etablissement",
    "indiceRepetition2Etablissement", "typeVoie2Etablissement", "libelleVoie2Etablissement",
    "codePostal2Etablissement", "libelleCommune2Etablissement",
    "libelleCommuneEtranger2Etablissement", "distributionSpeciale2Etablissement",
    "codeCommune2Etablissement", "codeCedex2Etablissement", "libelleCedex2Etablissement",
    "codePaysEtranger2Etablissement", "libellePaysEtranger2Etablissement", "dateDebut",
    "etatAdministratifEtablissement", "enseigne1Etablissement", "enseigne2Etablissement",
    "enseigne3Etablissement", "denominationUsuelleEtablissement",
    "activitePrincipaleEtablissement", "nomenclatureActivitePrincipaleEtablissement",
    "caractereEmployeurEtablissement",
]


def siren(n: int) -> str:
    return siren_with_check_digit(f"{52_000_000 + n:08d}")


def siret(siren_value: str, n: int = 1) -> str:
    return siret_with_check_digit(siren_value, f"{n:04d}")


def unit(siren_value: str, **values: str) -> dict[str, str]:
    """A legal-unit row: official column name → value (the rest empty)."""
    return {"siren": siren_value, "statutDiffusionUniteLegale": "O",
            "unitePurgeeUniteLegale": "", "dateCreationUniteLegale": "2010-03-01",
            "etatAdministratifUniteLegale": "A", "categorieJuridiqueUniteLegale": "5499",
            "nomenclatureActivitePrincipaleUniteLegale": "NAFRev2",
            "dateDernierTraitementUniteLegale": "2024-03-22T09:51:25",
            "caractereEmployeurUniteLegale": "O", **values}


def establishment(siret_value: str, **values: str) -> dict[str, str]:
    return {"siren": siret_value[:9], "nic": siret_value[9:], "siret": siret_value,
            "statutDiffusionEtablissement": "O", "dateCreationEtablissement": "2010-03-01",
            "etablissementSiege": "false", "etatAdministratifEtablissement": "A",
            "nomenclatureActivitePrincipaleEtablissement": "NAFRev2",
            "codeCommuneEtablissement": "69382", **values}


def write_csv(path: Path, header: list[str], rows: Iterable[Mapping[str, str] | list[str]],
              *, quoting: int = csv.QUOTE_MINIMAL) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, quoting=quoting, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row if isinstance(row, list) else [row.get(c, "") for c in header])
    return path


def zip_csv(csv_path: Path) -> Path:
    """The official packaging: ``StockX_utf8.zip`` holding ``StockX_utf8.csv``."""
    zipped = csv_path.with_suffix(".zip")
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv_path, arcname=csv_path.name)
    return zipped


# --- The register the tests load ------------------------------------------------------------

DUPONT = siren(1)
CLOSED = siren(2)
MARTIN = siren(3)
BAKERY = siren(4)
DURAND = siren(5)
DUPONT_HQ = siret(DUPONT, 1)
DUPONT_LYON = siret(DUPONT, 2)
CLOSED_HQ = siret(CLOSED, 1)
MARTIN_HQ = siret(MARTIN, 1)
BAKERY_HQ = siret(BAKERY, 1)
DURAND_HQ = siret(DURAND, 1)


def units() -> list[dict[str, str]]:
    return [
        unit(DUPONT, denominationUniteLegale="DUPONT CONSEIL", sigleUniteLegale="DC",
             categorieJuridiqueUniteLegale="5499", activitePrincipaleUniteLegale="70.22Z",
             trancheEffectifsUniteLegale="11", nicSiegeUniteLegale=DUPONT_HQ[9:]),
        unit(CLOSED, denominationUniteLegale="MENUISERIE MARTINET",
             trancheEffectifsUniteLegale="01",
             etatAdministratifUniteLegale="C", activitePrincipaleUniteLegale="16.23Z",
             nicSiegeUniteLegale=CLOSED_HQ[9:]),
        unit(MARTIN, nomUniteLegale="MARTIN", prenom1UniteLegale="JEANNE",
             prenomUsuelUniteLegale="JEANNE", sexeUniteLegale="F",
             categorieJuridiqueUniteLegale="1000", activitePrincipaleUniteLegale="69.20Z",
             trancheEffectifsUniteLegale="NN", nicSiegeUniteLegale=MARTIN_HQ[9:]),
        unit(BAKERY, denominationUniteLegale="BOULANGERIE DU PARC",
             activitePrincipaleUniteLegale="10.71C", trancheEffectifsUniteLegale="02",
             nicSiegeUniteLegale=BAKERY_HQ[9:]),
        unit(DURAND, denominationUniteLegale="DURAND, FILS ET ASSOCIES",
             activitePrincipaleUniteLegale="41.20A", nicSiegeUniteLegale=DURAND_HQ[9:]),
    ]


def establishments() -> list[dict[str, str]]:
    return [
        establishment(DUPONT_HQ, etablissementSiege="true", numeroVoieEtablissement="12",
                      indiceRepetitionEtablissement="B", typeVoieEtablissement="AV",
                      libelleVoieEtablissement="DES CHAMPS ELYSEES",
                      codePostalEtablissement="75008", libelleCommuneEtablissement="PARIS",
                      activitePrincipaleEtablissement="70.22Z",
                      trancheEffectifsEtablissement="11", codeCommuneEtablissement="75108"),
        establishment(DUPONT_LYON, numeroVoieEtablissement="5", typeVoieEtablissement="RUE",
                      libelleVoieEtablissement="DE LA REPUBLIQUE",
                      complementAdresseEtablissement="BATIMENT A",
                      codePostalEtablissement="69002", libelleCommuneEtablissement="LYON",
                      activitePrincipaleEtablissement="70.22Z",
                      enseigne1Etablissement="DUPONT CONSEIL LYON"),
        establishment(CLOSED_HQ, etablissementSiege="true", numeroVoieEtablissement="3",
                      typeVoieEtablissement="BD", libelleVoieEtablissement="DES BROTTEAUX",
                      codePostalEtablissement="69006", libelleCommuneEtablissement="LYON",
                      etatAdministratifEtablissement="C",
                      activitePrincipaleEtablissement="16.23Z"),
        establishment(MARTIN_HQ, etablissementSiege="true", numeroVoieEtablissement="8",
                      typeVoieEtablissement="PL", libelleVoieEtablissement="BELLECOUR",
                      codePostalEtablissement="69002", libelleCommuneEtablissement="LYON",
                      activitePrincipaleEtablissement="69.20Z"),
        establishment(BAKERY_HQ, etablissementSiege="true", numeroVoieEtablissement="40",
                      typeVoieEtablissement="RUE", libelleVoieEtablissement="MERCIERE",
                      codePostalEtablissement="69002", libelleCommuneEtablissement="LYON",
                      activitePrincipaleEtablissement="10.71C"),
        establishment(DURAND_HQ, etablissementSiege="true", numeroVoieEtablissement="1",
                      typeVoieEtablissement="CHE", libelleVoieEtablissement="DU MOULIN",
                      codePostalEtablissement="38000", libelleCommuneEtablissement="GRENOBLE",
                      codeCommuneEtablissement="38185"),
    ]


def register_files(folder: Path, *, zipped: bool = True) -> tuple[Path, Path]:
    """(units file, establishments file): the establishments zipped like the official one."""
    units_path = write_csv(folder / "StockUniteLegale_utf8.csv", UNIT_HEADER, units())
    etabs_path = write_csv(folder / "StockEtablissement_utf8.csv", ESTABLISHMENT_HEADER,
                           establishments())
    return units_path, (zip_csv(etabs_path) if zipped else etabs_path)
