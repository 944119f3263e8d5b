"""Each mistake is reported at the exact line:column of the offending key or value."""

from __future__ import annotations

import textwrap

from acd.ivr.validate import validate_text


def problems(text: str) -> list[str]:
    return [str(problem) for problem in validate_text(textwrap.dedent(text).lstrip("\n"), "f.yaml")]


def test_dangling_target_points_at_the_target_value() -> None:
    assert problems(
        """
        entry: hola
        nodes:
          hola:
            type: play
            prompt: hello-world
            next: mneu
          menu:
            type: hangup
        """
    ) == [
        "f.yaml:6:11: nodes.hola.next: no node named 'mneu' in this flow (did you mean 'menu'?)",
    ]


def test_unknown_node_type_points_at_the_type_and_lists_known_types() -> None:
    assert problems(
        """
        entry: hola
        nodes:
          hola:
            type: playy
            prompt: hello-world
        """
    ) == [
        "f.yaml:4:11: nodes.hola.type: unknown node type 'playy' (did you mean 'play'?); known types: "
        "branch, collect, goto, hangup, menu, message, play, queue, schedule, set, survey, transfer"
    ]


def test_bad_time_points_at_the_hours_value() -> None:
    assert problems(
        """
        entry: horario
        nodes:
          horario:
            type: schedule
            hours:
              mon-thu: 09:00-18:00
              fri: 09:00-25:00
            open: fin
            closed: fin
          fin:
            type: hangup
        """
    ) == [
        "f.yaml:7:12: nodes.horario.hours.fri: bad time '25:00': hours go from 00 to 23 and minutes from 00 to 59 (24:00 only as an end)"
    ]


def test_unknown_weekday_points_at_the_key() -> None:
    assert problems(
        """
        entry: horario
        nodes:
          horario:
            type: schedule
            hours:
              lun-jue: 09:00-18:00
              friday-sat: 09:00-13:00
              funday: 10:00-11:00
            open: fin
            closed: fin
          fin:
            type: hangup
        """
    ) == [
        "f.yaml:8:7: nodes.horario.hours.funday: unknown weekday 'funday'; use mon tue wed thu fri sat sun "
        "(or lun mar mie jue vie sab dom), a range like mon-fri, or a list like mon,wed"
    ]


def test_negative_timeout_points_at_the_value() -> None:
    assert problems(
        """
        entry: menu
        nodes:
          menu:
            type: menu
            prompt: vm-press
            keys: {"1": fin}
            timeout: -3
            fallback: fin
          fin:
            type: hangup
        """
    ) == ["f.yaml:7:14: nodes.menu.timeout: found -3 (an integer), expected greater than 0"]


def test_duplicate_key_points_at_the_second_key() -> None:
    assert problems(
        """
        entry: fin
        nodes:
          fin:
            type: hangup
          fin:
            type: hangup
        """
    ) == ["f.yaml:5:3: duplicate key 'fin' (first defined on line 3)"]


def test_bad_dtmf_key_points_at_the_key() -> None:
    assert problems(
        """
        entry: menu
        nodes:
          menu:
            type: menu
            prompt: vm-press
            keys:
              "1": fin
              "12": fin
              A: fin
            fallback: fin
          fin:
            type: hangup
        """
    ) == [
        "f.yaml:8:7: nodes.menu.keys.12: '12' is not a phone key; use one of 0-9, * or # (one key each)",
        "f.yaml:9:7: nodes.menu.keys.A: 'A' is not a phone key; use one of 0-9, * or # (one key each)",
    ]


def test_unreachable_node_points_at_the_node_name() -> None:
    assert problems(
        """
        entry: hola
        after_call: encuesta_fin
        nodes:
          hola:
            type: hangup
          encuesta_fin:
            type: hangup
          olvidado:
            type: message
            prompt: vm-goodbye
        """
    ) == [
        "f.yaml:8:3: nodes.olvidado: never reached from entry 'hola' or after_call 'encuesta_fin'; "
        "link it from another node or delete it"
    ]


def test_loop_without_input_points_at_its_first_node_and_names_the_cycle() -> None:
    assert problems(
        """
        entry: inicio
        nodes:
          inicio:
            type: play
            prompt: hello-world
            next: espera
          espera:
            type: play
            prompt: beep
            interruptible: true
            next: marca
          marca:
            type: set
            variables: {vuelta: "si"}
            next: espera
        """
    ) == [
        "f.yaml:7:3: nodes.espera: loop that never waits for the caller: espera → marca → espera; "
        "put a menu, collect or survey in the loop (an interruptible play does not count)"
    ]


def test_loop_through_a_menu_is_fine() -> None:
    assert problems(
        """
        entry: menu
        nodes:
          menu:
            type: menu
            prompt: vm-press
            keys: {"1": otra_vez}
            fallback: fin
          otra_vez:
            type: play
            prompt: beep
            next: menu
          fin:
            type: hangup
        """
    ) == []


def test_unknown_field_points_at_the_key() -> None:
    assert problems(
        """
        entry: fin
        nodes:
          fin:
            type: message
            prompt: vm-goodbye
            timout: 3
        """
    ) == ["f.yaml:6:5: nodes.fin.timout: unknown field"]


def test_wrong_type_and_missing_field_are_both_reported() -> None:
    assert problems(
        """
        entry: hola
        nodes:
          hola:
            type: play
            prompt: hello-world
            interruptible: [1]
        """
    ) == [
        "f.yaml:3:3: nodes.hola.next: required field is missing",
        "f.yaml:6:20: nodes.hola.interruptible: found a list, expected a valid boolean",
    ]


def test_unknown_timezone_points_at_the_value() -> None:
    assert problems(
        """
        entry: h
        nodes:
          h:
            type: schedule
            timezone: America/Santiagoo
            hours: {mon-fri: 09:00-18:00}
            open: fin
            closed: fin
          fin:
            type: hangup
        """
    ) == ["f.yaml:5:15: nodes.h.timezone: unknown timezone 'America/Santiagoo'; use a name like America/Santiago"]


def test_every_problem_of_a_file_is_reported_not_just_the_first() -> None:
    found = problems(
        """
        entry: menu
        nodes:
          menu:
            type: menu
            prompt: vm-press
            keys: {"1": nada, "x": fin}
            timeout: -1
            fallback: fin
          fin:
            type: hangup
          raro:
            type: teleport
        """
    )
    assert [line.split(": ")[0] for line in found] == ["f.yaml:6:17", "f.yaml:6:23", "f.yaml:7:14", "f.yaml:12:11"]


def test_a_set_or_transfer_value_with_a_line_break_is_refused_at_its_line() -> None:
    """A line break would reach Asterisk inside an AGI argument (one command per line)."""
    assert problems(
        """
        entry: marca
        nodes:
          marca:
            type: set
            variables:
              destino: "100\\nEXEC System rm"
            next: pasar
          pasar:
            type: transfer
            to: "${destino}\\r"
        """
    ) == [
        "f.yaml:6:16: nodes.marca.variables.destino: contains a line break or NUL; a value must be one line (Asterisk reads one command per line)",
        "f.yaml:10:9: nodes.pasar.to: contains a line break or NUL; a value must be one line (Asterisk reads one command per line)",
    ]
